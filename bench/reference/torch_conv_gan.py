"""PyTorch eager reference for `cargo xtask bench`: the `dcgan` and `wgan-gp` presets, step
for step.

Same networks (G: 100 → Linear → 64×7×7 → BatchNorm, ReLU → ConvTranspose 4×4/2 → 32×14×14
→ BatchNorm, ReLU → ConvTranspose 4×4/2 → 1×28×28 → tanh; D: Conv 4×4/2 → 32 → LeakyReLU(0.2)
→ Conv 4×4/2 → 64 → LeakyReLU → Linear → 1, PyTorch's default initialisation), same loop,
same Adam settings, thread count and batch size:

- dcgan: a real batch sampled with replacement, fakes from G without gradients, one D step on
  the BCE of both batches plus 10·GP (as below; D lr 5e-4), a G step through D on fresh noise
  (lr 1e-3), an EMA update of G's weights.
- wgan-gp: each step one critic step on `E[D(fake)] − E[D(real)] + 10·GP` (interpolation
  coefficients per sample, the gradient's norm per sample, `create_graph=True`), and every
  fifth step a G step on `−E[D(G(z))]` and an EMA update; Adam lr 1e-3, β (0, 0.9).

Prints one JSON object: the median steps/s of the repeats.

    python torch_conv_gan.py --preset dcgan --batch-size 64 --threads 2 --data-dir DIR
"""

# common first: it silences the wheel's NumPy warning before torch loads.
from common import arguments, load_images, measure

import torch  # noqa: E402
from torch import nn  # noqa: E402


def networks():
    generator = nn.Sequential(
        nn.Linear(100, 64 * 7 * 7),
        nn.Unflatten(1, (64, 7, 7)),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 4, 2, 1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 4, 2, 1),
        nn.Tanh(),
    )
    discriminator = nn.Sequential(
        nn.Conv2d(1, 32, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 1),
    )
    return generator, discriminator


def main():
    args = arguments(["dcgan", "wgan-gp"], "dcgan", 64)

    data = load_images(args.data_dir).float() / 127.5 - 1.0
    generator, discriminator = networks()
    wgan = args.preset == "wgan-gp"
    betas = (0.0, 0.9) if wgan else (0.5, 0.999)
    g_lr, d_lr = (1e-3, 1e-3) if wgan else (1e-3, 5e-4)
    g_opt = torch.optim.Adam(generator.parameters(), lr=g_lr, betas=betas)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=d_lr, betas=betas)
    bce = nn.BCEWithLogitsLoss()
    batch = args.batch_size
    ones = torch.ones(batch, 1)
    zeros = torch.zeros(batch, 1)
    ema = [p.detach().clone() for p in generator.parameters()]
    live = [p.detach() for p in generator.parameters()]
    counters = {"step": 0, "ema": 0}

    def critic_step(real, fake):
        d_opt.zero_grad(set_to_none=True)
        real_scores = discriminator(real)
        fake_scores = discriminator(fake)
        eps = torch.rand(batch, 1, 1, 1)
        points = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grads,) = torch.autograd.grad(
            discriminator(points).sum(), points, create_graph=True
        )
        penalty = ((grads.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
        if not wgan:
            loss = bce(real_scores, ones) + bce(fake_scores, zeros) + 10.0 * penalty
        else:
            loss = fake_scores.mean() - real_scores.mean() + 10.0 * penalty
        loss.backward()
        d_opt.step()
        return loss

    def generator_step():
        g_opt.zero_grad(set_to_none=True)
        discriminator.requires_grad_(False)
        scores = discriminator(generator(torch.randn(batch, 100)))
        loss = -scores.mean() if wgan else bce(scores, ones)
        loss.backward()
        discriminator.requires_grad_(True)
        g_opt.step()
        t = counters["ema"]
        decay = min(0.999, (1 + t) / (10 + t))
        torch._foreach_lerp_(ema, live, 1.0 - decay)
        counters["ema"] += 1
        return loss

    def step():
        real = data[torch.randint(0, data.shape[0], (batch,))]
        with torch.no_grad():
            fake = generator(torch.randn(batch, 100))
        d_loss = critic_step(real, fake)
        counters["step"] += 1
        # gan-rs reads the losses each step for metrics.csv; so does this.
        if not wgan or counters["step"] % 5 == 0:
            return d_loss.item(), generator_step().item()
        return d_loss.item(), None

    measure(step, args)


if __name__ == "__main__":
    main()
