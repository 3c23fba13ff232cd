# "Automatic Differentiation with torch.autograd" and the blitz's autograd tutorial, with explicit data.
import numpy as np
import torch

rng = np.random.default_rng(0)
x = torch.ones(5)
y = torch.zeros(3)
w = torch.tensor(rng.standard_normal((5, 3)), dtype=torch.float32, requires_grad=True)
b = torch.tensor(rng.standard_normal(3), dtype=torch.float32, requires_grad=True)
z = torch.matmul(x, w) + b
loss = ((torch.sigmoid(z) - y) ** 2).mean()
print("grad_fn of z:", z.grad_fn is not None, "of a leaf:", w.grad_fn is None, "is_leaf:", w.is_leaf, z.is_leaf)
loss.backward()
print("w.grad:", [[round(v, 5) for v in row] for row in w.grad.tolist()])
print("b.grad:", [round(v, 5) for v in b.grad.tolist()])

z = torch.matmul(x, w) + b
print("requires_grad:", z.requires_grad)
with torch.no_grad():
    z = torch.matmul(x, w) + b
print("under no_grad:", z.requires_grad)
z_det = (torch.matmul(x, w) + b).detach()
print("detach:", z_det.requires_grad)

inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
print("First call:", inp.grad.tolist())
out.backward(torch.ones_like(out), retain_graph=True)
print("Second call (accumulated):", inp.grad.tolist())
inp.grad.zero_()
out.backward(torch.ones_like(out), retain_graph=True)
print("Call after zeroing gradients:", inp.grad.tolist())

a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
Q = 3 * a ** 3 - b ** 2
external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)
print("9a^2 == a.grad:", (9 * a ** 2 == a.grad).tolist(), "-2b == b.grad:", (-2 * b == b.grad).tolist())

v = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float64)
xs = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
ys = xs * 2
ys = ys * ys
ys.backward(v)
print("vector-Jacobian product:", xs.grad.tolist())

p = torch.tensor([1.0, 2.0, 3.0])
print("requires_grad_ before/after:", p.requires_grad, p.requires_grad_().requires_grad)
try:
    p += 1
    print("in-place on a leaf: allowed")
except RuntimeError:
    print("in-place on a leaf that requires grad: RuntimeError")
with torch.no_grad():
    p -= 0.5 * torch.ones(3)
print("under no_grad, in place:", p.tolist(), p.is_leaf, p.requires_grad)

q = torch.tensor([1.0, 2.0], requires_grad=True)
r = q.exp()
with torch.no_grad():
    q.mul_(2)
try:
    r.sum().backward()
    print("backward after an in-place change: allowed")
except RuntimeError:
    print("backward after an in-place change of a saved tensor: RuntimeError")
s = q.sin()  # sin saves its input for backward: changing it in place makes backward refuse
with torch.no_grad():
    q.add_(1)
try:
    s.sum().backward()
    print("backward through sin after an in-place change of its input: allowed")
except RuntimeError:
    print("backward through sin after an in-place change of its input: RuntimeError")

with torch.set_grad_enabled(False):
    print("set_grad_enabled(False):", (q * 2).requires_grad, torch.is_grad_enabled())
