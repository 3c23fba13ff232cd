# "Learning PyTorch with Examples": the same fit with autograd, updating the weights by hand under no_grad.
import math

import numpy as np
import torch

dtype = torch.float
device = "cpu"

x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)

a, b, c, d = (torch.tensor(v, device=device, dtype=dtype, requires_grad=True)
              for v in np.random.default_rng(1).standard_normal(4))

learning_rate = 1e-6
for t in range(2000):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, f"{loss.item():.4f}")
    loss.backward()
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None

print("still leaves that require grad:", all(p.is_leaf and p.requires_grad for p in (a, b, c, d)))
print(f"Result: y = {a.item():.5f} + {b.item():.5f} x + {c.item():.5f} x^2 + {d.item():.5f} x^3")
