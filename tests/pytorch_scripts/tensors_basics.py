# "Learn the Basics: Tensors" and the blitz's tensor tutorial, with explicit data.
import numpy as np
import torch

data = [[1, 2], [3, 4]]
x_data = torch.tensor(data)
print("int64 from ints:", x_data.dtype == torch.int64, x_data.tolist())
print("float from floats:", torch.tensor([1.5, 2.5]).dtype == torch.get_default_dtype())

np_array = np.array(data)
x_np = torch.from_numpy(np_array)
np.multiply(np_array, 2, out=np_array)
print("from_numpy shares memory:", x_np.tolist())

x_ones = torch.ones_like(x_data)
print("ones_like:", x_ones.tolist(), x_ones.dtype == torch.int64)
x_rand = torch.rand_like(x_data, dtype=torch.float)
print("rand_like shape:", list(x_rand.shape), x_rand.dtype == torch.float32)

shape = (2, 3,)
print("zeros:", torch.zeros(shape).tolist(), "ones:", torch.ones(shape).sum().item())
print("rand in [0,1):", bool((torch.rand(shape) < 1).all()), list(torch.randn(4, 5).shape))
print("full:", torch.full((2, 2), 7).tolist(), "eye:", torch.eye(3).tolist())
print("arange:", torch.arange(5).tolist(), torch.arange(0, 1, 0.25).tolist())
print("linspace:", torch.linspace(-1, 1, 5).tolist())
print("zeros_like:", torch.zeros_like(torch.tensor([1.0, 2.0])).tolist())
print("randint range:", bool(((torch.randint(0, 10, (50,)) >= 0) & (torch.randint(0, 10, (50,)) < 10)).all()))

tensor = torch.tensor(np.arange(16, dtype=np.float32).reshape(4, 4))
print("shape:", list(tensor.shape), "size:", list(tensor.size()), tensor.size(1), "dtype float32:",
      tensor.dtype == torch.float32)
device = "cuda" if torch.cuda.is_available() else "cpu"
tensor = tensor.to(device)
print("device type:", torch.device(device).type in ("cpu", "cuda"))
tensor = tensor.cpu()
print("first row:", tensor[0].tolist(), "first column:", tensor[:, 0].tolist(), "last column:", tensor[..., -1].tolist())
tensor[:, 1] = 0
print("column 1 zeroed:", tensor.tolist())
t1 = torch.cat([tensor, tensor, tensor], dim=1)
print("cat:", list(t1.shape), t1[1].tolist())
print("stack:", list(torch.stack([tensor, tensor]).shape), list(torch.stack([tensor, tensor], dim=1).shape))

y1 = tensor @ tensor.T
y2 = tensor.matmul(tensor.T)
y3 = torch.matmul(tensor, tensor.t())
print("matmul:", y1.tolist(), bool((y1 == y2).all()), bool((y2 == y3).all()))
z1 = tensor * tensor
z2 = tensor.mul(tensor)
print("mul:", z1.tolist(), torch.equal(z1, z2))
print("mm:", tensor.mm(torch.eye(4)).tolist() == tensor.tolist())
agg = tensor.sum()
agg_item = agg.item()
print("sum item:", agg_item, isinstance(agg_item, float))
tensor.add_(5)
print("add_ in place:", tensor.tolist())
n = tensor.numpy()
tensor.add_(1)
print("numpy shares memory:", n.tolist())
tensor.mul_(0.5)
print("mul_:", n[0].tolist())
tensor.zero_()
print("zero_:", float(n.sum()))

x = torch.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
x[x < 0] = 0
print("mask assign:", x.tolist())
print("==:", (x == torch.tensor([[1.0, 0.0, 0.0], [0.0, 5.0, 0.0]])).tolist(), "!=:", (x != 0).tolist())
print("comparisons:", (x > 2).tolist(), (x <= 1).tolist())
print("argmax:", x.argmax().item(), x.argmax(dim=1).tolist(), torch.argmax(x, dim=0).tolist())
print("max:", x.max().item(), "mean:", round(x.mean().item(), 6))
print("pow:", x.pow(2).tolist(), "** 3:", (x ** 3).tolist())
print("unsqueeze:", list(x.unsqueeze(0).shape), list(x.unsqueeze(-1).shape),
      "squeeze:", list(x.unsqueeze(1).squeeze().shape), list(torch.zeros(3, 1).squeeze(1).shape))
print("view:", list(x.view(3, 2).shape), list(x.view(-1).shape), "reshape:", x.reshape(3, -1).tolist())
print("flatten:", list(torch.flatten(torch.zeros(2, 3, 4)).shape), list(torch.flatten(torch.zeros(2, 3, 4), 1).shape),
      list(torch.zeros(2, 3, 4).flatten(0, 1).shape))
c = x.clone()
c[0, 0] = 100
print("clone is a copy:", x[0, 0].item(), c[0, 0].item())
print("type:", x.type(torch.int64).tolist(), x.long().dtype == torch.int64, x.double().dtype == torch.float64,
      x.float().dtype == torch.float32)
print("detach:", x.detach().tolist() == x.tolist())
a = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
print("elementwise:", [round(v, 6) for v in torch.sin(a).tolist()], [round(v, 6) for v in a.cos().tolist()],
      [round(v, 6) for v in torch.exp(a).tolist()], [round(v, 6) for v in torch.sqrt(a).tolist()],
      [round(v, 6) for v in torch.log(a + 1).tolist()], torch.abs(-a).tolist(),
      [round(v, 6) for v in torch.tanh(a).tolist()], [round(v, 6) for v in torch.sigmoid(a).tolist()])
print("numel:", torch.numel(x), x.numel(), x.dim())
print("is_tensor:", torch.is_tensor(x), torch.is_tensor(n))
