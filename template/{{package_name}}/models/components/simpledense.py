"""A fully connected network for tabular inputs."""

from collections.abc import Sequence

from torch import Tensor, nn


class SimpleDenseNet(nn.Module):
    """Linear -> BatchNorm -> ReLU (-> Dropout) blocks, then a linear output layer.

    `input_size` is the number of feature columns; main.py sets it from the data, so
    a CSV with other columns needs no change here.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int] = (64,),
        output_size: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_size
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, output_size))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
