"""PyTorch eager reference for `cargo xtask bench`: the gan-rs `flow-mlp` preset, step for step.

Same denoiser (the flattened image → 512, four residual blocks `h + W·SiLU(FiLM(LN(h)))`
with the FiLM scale and shift drawn from a 128-wide time embedding of sinusoidal features,
then LN·SiLU·Dense back to 784), PyTorch's default initialisation, flow matching on straight
paths (`x_t = (1 − t)·x + t·ε`, `t` logit-normal) with the network predicting the clean
image, each image's squared error weighed by min(1/t², 5), Adam (lr 3e-4), an EMA of the
weights (decay 0.999 with warm-up) updated every step, the loss read back each step as
gan-rs does for metrics.csv. Prints one JSON object: the
median steps/s of the repeats.

    python torch_flow.py --preset flow-mlp --batch-size 256 --threads 2 --data-dir DIR
"""

# common first: it silences the wheel's NumPy warning before torch loads.
from common import arguments, load_images, measure

import copy  # noqa: E402
import math  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

PRESETS = {"flow-mlp": dict(width=512, blocks=4, features=128)}


def sinusoidal(t, dim):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10_000.0) / half))
    angles = (t * 1_000.0)[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], 1)


class Denoiser(nn.Module):
    def __init__(self, width, blocks, features):
        super().__init__()
        self.width, self.features = width, features
        self.time = nn.Linear(features, features)
        self.input = nn.Linear(784, width)
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(blocks))
        self.films = nn.ModuleList(nn.Linear(features, 2 * width) for _ in range(blocks))
        self.output = nn.Linear(width, 784)

    def forward(self, x, t):
        embedding = F.silu(self.time(sinusoidal(t, self.features)))
        h = self.input(x.flatten(1))
        for block, film in zip(self.blocks, self.films):
            scale, shift = film(embedding).chunk(2, 1)
            a = F.layer_norm(h, (self.width,)) * (1 + scale) + shift
            h = h + block(F.silu(a))
        return self.output(F.silu(F.layer_norm(h, (self.width,)))).view(-1, 1, 28, 28)


def main():
    args = arguments(sorted(PRESETS), "flow-mlp", 256)
    p = PRESETS[args.preset]
    data = load_images(args.data_dir).float() / 127.5 - 1.0
    net = Denoiser(p["width"], p["blocks"], p["features"])
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=3e-4, betas=(0.9, 0.999), eps=1e-8)
    live, shadow = list(net.parameters()), list(ema.parameters())
    batch = args.batch_size
    updates = [0]

    def step():
        x = data[torch.randint(0, data.shape[0], (batch,))]
        noise = torch.randn_like(x)
        t = torch.sigmoid(torch.randn(batch))
        rows = t[:, None, None, None]
        noised = (1 - rows) * x + rows * noise
        per_image = (net(noised, t) - x).square().flatten(1).mean(1)
        loss = (per_image * t.square().reciprocal().clamp(max=5.0)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        decay = min(0.999, (1 + updates[0]) / (10 + updates[0]))
        updates[0] += 1
        with torch.no_grad():
            torch._foreach_lerp_(shadow, live, 1 - decay)
        return loss.item()

    measure(step, args)


if __name__ == "__main__":
    main()
