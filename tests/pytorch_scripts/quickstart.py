# "Learn the Basics: Quickstart", "Datasets & DataLoaders", "Build the Neural Network", "Optimizing Model
# Parameters" and "Save and Load the Model", on a small synthetic data set (no downloads).
import os
import tempfile

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

rng = np.random.default_rng(0)
centres = rng.normal(size=(4, 6, 6)).astype(np.float32)


class BlobImages(Dataset):
    """Four classes of 6x6 "images": a class's centre plus noise."""

    def __init__(self, n, seed):
        r = np.random.default_rng(seed)
        self.labels = r.integers(0, 4, n)
        self.images = (centres[self.labels] + 0.8 * r.normal(size=(n, 6, 6))).astype(np.float32)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return torch.from_numpy(self.images[idx]), int(self.labels[idx])


training_data, test_data = BlobImages(600, 1), BlobImages(200, 2)
train_dataloader = DataLoader(training_data, batch_size=64)
test_dataloader = DataLoader(test_data, batch_size=64)
for X, y in test_dataloader:
    print(f"Shape of X [N, H, W]: {list(X.shape)}")
    print(f"Shape of y: {list(y.shape)} int64: {y.dtype == torch.int64}")
    break
print("batches:", len(train_dataloader), len(DataLoader(training_data, batch_size=64, drop_last=True)))

device = "cuda" if torch.cuda.is_available() else "cpu"


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(36, 32),
            nn.ReLU(),
            nn.Linear(32, 32),
            nn.ReLU(),
            nn.Linear(32, 4),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork().to(device)
# PyTorch's Linear starts from its own random numbers: load explicit ones (weights stored (out, in)).
w = np.random.default_rng(3)
model.load_state_dict({name: torch.from_numpy(w.uniform(-0.3, 0.3, tuple(p.shape)).astype(np.float32))
                       for name, p in model.named_parameters()})
print("parameters:", [(name, list(p.size())) for name, p in model.named_parameters()])

X = torch.from_numpy(test_data.images[:3])
logits = model(X)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print("probabilities:", [[round(v, 4) for v in row] for row in pred_probab.tolist()], "predicted:", y_pred.tolist())

loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)


def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 4 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")


epochs = 3
for t in range(epochs):
    print(f"Epoch {t + 1}\n-------------------------------")
    train(train_dataloader, model, loss_fn, optimizer)
    test(test_dataloader, model, loss_fn)
print("Done!")

path = os.path.join(tempfile.mkdtemp(), "model.pth")
torch.save(model.state_dict(), path)
model2 = NeuralNetwork().to(device)
model2.load_state_dict(torch.load(path, weights_only=True))
model2.eval()
with torch.no_grad():
    same = torch.equal(model2(X).argmax(1), model(X).argmax(1))
print("Saved PyTorch Model State to model.pth; the reloaded model predicts the same:", same)

shuffled = DataLoader(training_data, batch_size=100, shuffle=True)
labels = torch.cat([yb for _, yb in shuffled])
print("a shuffled epoch sees every example once:", sorted(labels.tolist()) == sorted(training_data.labels.tolist()))
