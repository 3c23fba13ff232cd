# "Learning PyTorch with Examples": nn.Sequential, MSELoss and a manual update of model.parameters().
import math

import numpy as np
import torch

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)
# PyTorch's Linear starts from its own random numbers: load explicit ones, weight stored (out, in).
start = np.random.default_rng(2).uniform(-0.5, 0.5, 4).astype(np.float32)
model.load_state_dict({"0.weight": torch.from_numpy(start[:3].reshape(1, 3)), "0.bias": torch.from_numpy(start[3:])})
model = model.to(torch.float32)  # a module moves (and casts) its parameters
loss_fn = torch.nn.MSELoss(reduction="sum")

learning_rate = 1e-6
for t in range(2000):
    y_pred = model(xx.float())
    loss = loss_fn(y_pred, y.float())
    if t % 100 == 99:
        print(t, f"{loss.item():.4f}")
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

linear_layer = model[0]
print("weight shape (out, in):", list(linear_layer.weight.shape))
print(f"Result: y = {linear_layer.bias.item():.5f} + {linear_layer.weight[:, 0].item():.5f} x + "
      f"{linear_layer.weight[:, 1].item():.5f} x^2 + {linear_layer.weight[:, 2].item():.5f} x^3")
