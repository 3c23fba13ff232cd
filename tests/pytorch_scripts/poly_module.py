# "Learning PyTorch with Examples": a custom nn.Module with four Parameters, trained by SGD.
import math

import torch


class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        # The tutorial draws these with torch.randn(()); explicit values keep both libraries on the same start.
        self.a = torch.nn.Parameter(torch.tensor(0.3, dtype=torch.float32))
        self.b = torch.nn.Parameter(torch.tensor(-0.2, dtype=torch.float32))
        self.c = torch.nn.Parameter(torch.tensor(0.1, dtype=torch.float32))
        self.d = torch.nn.Parameter(torch.tensor(0.05, dtype=torch.float32))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return f"y = {self.a.item():.5f} + {self.b.item():.5f} x + {self.c.item():.5f} x^2 + {self.d.item():.5f} x^3"


x = torch.linspace(-math.pi, math.pi, 2000, dtype=torch.float32)
y = torch.sin(x)

model = Polynomial3()
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
for t in range(2000):
    y_pred = model(x)
    loss = criterion(y_pred, y)
    if t % 100 == 99:
        print(t, f"{loss.item():.4f}")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

print(f"Result: {model.string()}")
print("parameters:", len(list(model.parameters())), [name for name, _ in model.named_parameters()])
