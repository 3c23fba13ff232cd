# "Learning PyTorch with Examples": the optim package (RMSprop), and saving/loading the trained weights.
import math
import os
import tempfile

import numpy as np
import torch

x = torch.linspace(-math.pi, math.pi, 2000, dtype=torch.float32)
y = torch.sin(x)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
start = np.random.default_rng(3).uniform(-0.5, 0.5, 4).astype(np.float32)
with torch.no_grad():
    model[0].weight.copy_(torch.from_numpy(start[:3].reshape(1, 3)))
    model[0].bias.copy_(torch.from_numpy(start[3:]))
loss_fn = torch.nn.MSELoss(reduction="sum")

learning_rate = 1e-3
optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)
# 1000 steps, not the tutorial's 2000: later, RMSprop divides tiny gradients by the roots of their tiny squares
# and the steps of the near-zero coefficients flip sign with float rounding (the runs part, in either library).
for t in range(1000):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, f"{loss.item():.4f}")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

linear_layer = model[0]
print(f"Result: y = {linear_layer.bias.item():.4f} + {linear_layer.weight[:, 0].item():.4f} x + "
      f"{linear_layer.weight[:, 1].item():.4f} x^2 + {linear_layer.weight[:, 2].item():.4f} x^3")

path = os.path.join(tempfile.mkdtemp(), "model_weights.pth")
torch.save(model.state_dict(), path)
model2 = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
model2.load_state_dict(torch.load(path, weights_only=True))
print("reloaded model predicts the same:", torch.equal(model2(xx), model(xx)))
print("state_dict keys and sizes:", [(k, list(v.size())) for k, v in model2.state_dict().items()])
