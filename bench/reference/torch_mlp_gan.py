"""PyTorch eager reference for `cargo xtask bench`: the gan-rs presets, step for step.

Same networks (`tutorial`: Glorot-uniform weights, zero biases, BatchNorm momentum 0.01 / eps
1e-3; `mlp`: PyTorch's default initialisation and BatchNorm), same loop (a real batch sampled
with replacement, fakes from G without gradients, a D update on the real batch, a D update on
the fake batch, a G update through D; for `mlp` then an EMA update of G's weights with
`torch._foreach_lerp_`, as `torch.optim.swa_utils.get_ema_multi_avg_fn` does; `cgan`: `mlp`
with the digit as a one-hot vector beside G's noise, real images with their labels, fakes of
every digit in turn, and a projection discriminator: logit = head(h) + <P·onehot(y), h> on D's
last hidden features h), same Adam
hyper-parameters, same thread count and batch size. Prints one JSON object: the median steps/s
of the repeats.

    python torch_mlp_gan.py --preset mlp --batch-size 128 --threads 2 --data-dir DIR

Differences from gan-rs, none of which changes the work per step: torch.optim.Adam puts
epsilon after the bias correction (gan-rs's `tutorial` preset follows Keras, which puts it
before), and random numbers come from torch's generator.
"""

# common first: it silences the wheel's NumPy warning before torch loads.
from common import arguments, load_images, load_labels, measure

import torch  # noqa: E402
from torch import nn  # noqa: E402


def glorot(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """The MLP generator; a conditional one reads a one-hot digit beside the noise."""

    def __init__(self, layers, conditional):
        super().__init__()
        self.body = nn.Sequential(*layers)
        self.conditional = conditional

    def forward(self, noise, labels=None):
        if self.conditional:
            noise = torch.cat([noise, nn.functional.one_hot(labels, 10).float()], 1)
        return self.body(noise)


class Discriminator(nn.Module):
    """The MLP discriminator; a conditional one adds a projection term to its logit."""

    def __init__(self, act, conditional):
        super().__init__()
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), act, nn.Linear(512, 256), act)
        self.head = nn.Linear(256, 1)
        self.projection = nn.Parameter(torch.randn(10, 256) * 0.05) if conditional else None

    def forward(self, images, labels=None):
        h = self.trunk(images)
        logit = self.head(h)
        if self.projection is not None:
            classes = nn.functional.one_hot(labels, 10).float() @ self.projection
            logit = logit + (classes * h).sum(1, keepdim=True)
        return logit


def networks(preset):
    tutorial = preset == "tutorial"
    conditional = preset == "cgan"
    act_d = nn.ReLU() if tutorial else nn.LeakyReLU(0.2)
    out = nn.Sigmoid() if tutorial else nn.Tanh()
    norm = dict(eps=1e-3, momentum=0.01) if tutorial else dict(eps=1e-5, momentum=0.1)
    layers = []
    width = 110 if conditional else 100
    for hidden in (256, 512, 1024):
        layers += [nn.Linear(width, hidden), nn.ReLU(), nn.BatchNorm1d(hidden, **norm)]
        width = hidden
    layers += [nn.Linear(width, 784), out, nn.Unflatten(1, (1, 28, 28))]
    generator = Generator(layers, conditional)
    discriminator = Discriminator(act_d, conditional)
    if tutorial:
        generator.apply(glorot)
        discriminator.apply(glorot)
    return generator, discriminator


def main():
    args = arguments(["tutorial", "mlp", "cgan"], "mlp", 128)

    images = load_images(args.data_dir).float()
    all_labels = load_labels(args.data_dir)
    if args.preset == "tutorial":
        data = images / 255.0
        lr, betas, eps = 1e-3, (0.9, 0.999), 1e-7
    else:
        data = images / 127.5 - 1.0
        lr, betas, eps = 2e-4, (0.5, 0.999), 1e-8
    generator, discriminator = networks(args.preset)
    g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas, eps=eps)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas, eps=eps)
    loss = nn.BCEWithLogitsLoss()
    batch = args.batch_size
    ones = torch.ones(batch, 1)
    zeros = torch.zeros(batch, 1)
    fakes_in_training_mode = args.preset != "tutorial"
    conditional = args.preset == "cgan"
    # mlp and cgan sample from an EMA of G's weights (decay 0.999 after a warm-up).
    ema = [p.detach().clone() for p in generator.parameters()] if args.preset != "tutorial" else None
    live = [p.detach() for p in generator.parameters()]
    ema_updates = [0]

    offset = [0]

    def step():
        picked = torch.randint(0, data.shape[0], (batch,))
        real = data[picked]
        real_classes = all_labels[picked] if conditional else None
        fake_classes = (torch.arange(batch) + offset[0]) % 10 if conditional else None
        offset[0] += batch
        noise = torch.randn(batch, 100)
        generator.train(fakes_in_training_mode)
        with torch.no_grad():
            fake = generator(noise, fake_classes)
        generator.train(True)
        for images, classes, targets in ((real, real_classes, ones), (fake, fake_classes, zeros)):
            d_opt.zero_grad(set_to_none=True)
            d_loss = loss(discriminator(images, classes), targets)
            d_loss.backward()
            d_opt.step()
        g_opt.zero_grad(set_to_none=True)
        discriminator.requires_grad_(False)
        g_loss = loss(discriminator(generator(torch.randn(batch, 100), fake_classes), fake_classes), ones)
        g_loss.backward()
        discriminator.requires_grad_(True)
        g_opt.step()
        if ema is not None:
            t = ema_updates[0]
            decay = min(0.999, (1 + t) / (10 + t))
            torch._foreach_lerp_(ema, live, 1.0 - decay)
            ema_updates[0] += 1
        # gan-rs reads the losses each step for metrics.csv; so does this.
        return d_loss.item(), g_loss.item()

    measure(step, args)


if __name__ == "__main__":
    main()
