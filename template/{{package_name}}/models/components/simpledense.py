"""A fully connected network for tables: numeric inputs and embedded categories."""

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def embedding_size(categories: int) -> int:
    """Width of a categorical column's embedding, from its number of categories.

    fastai's rule of thumb, min(600, round(1.6 * categories ** 0.56)): 2 categories get
    2 dimensions, 10 get 6, 100 get 21, 10,000 get 278.
    """
    return min(600, round(1.6 * categories**0.56))


class SimpleDenseNet(nn.Module):
    """Embeddings of the categorical columns, joined with the numeric inputs, then
    Linear -> BatchNorm -> ReLU (-> Dropout) blocks and a linear output layer.

    `numeric_features`, `category_sizes` and `output_size` come from the data
    (models/build.py sets them), so a table with other columns needs no change here.
    """

    def __init__(
        self,
        numeric_features: int,
        category_sizes: Sequence[int] = (),
        hidden_sizes: Sequence[int] = (64,),
        output_size: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(size, embedding_size(size)) for size in category_sizes
        )
        layers: list[nn.Module] = []
        width = numeric_features + sum(e.embedding_dim for e in self.embeddings)
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, output_size))
        self.model = nn.Sequential(*layers)

    def forward(self, numbers: Tensor, categories: Tensor) -> Tensor:
        if not self.embeddings:
            return self.model(numbers)
        embedded = [embed(categories[:, i]) for i, embed in enumerate(self.embeddings)]
        return self.model(torch.cat([numbers, *embedded], dim=1))
