"""A small CNN classifier for 28×28 images (MNIST, Fashion-MNIST).

conv 3×3 (32) → BN → ReLU → max-pool 2 → conv 3×3 (64) → BN → ReLU → max-pool 2
→ flatten (64·7·7) → linear 128 → ReLU → dropout → linear 10 (logits).

``features(x)`` returns the 128-d penultimate activations (the feature space
of the evaluation metrics); the loss is softmax cross-entropy on the logits.
"""
from __future__ import annotations

from .. import nn


class SmallCNN(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, width=32, hidden=128, dropout=0.3):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, hidden), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.dropout(self.body(x)))
