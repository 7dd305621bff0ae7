"""PyTorch eager reference for `cargo xtask bench`: the gan-rs VAE presets, step for step.

Same networks (`vae` and `cvae`: MLP encoder 784 → 512 → 256 → 2·16 and decoder 16 → 256 →
512 → 784, ReLU, the digit as a one-hot vector beside both inputs for `cvae`;
`vae-binarized`: 784 → 200 → 200 → 2·50 and back, tanh, each batch binarized by one
Bernoulli draw per pixel), PyTorch's default initialisation, one reparameterised sample per
image, the Bernoulli log-likelihood of the pixels from logits and the Gaussian KL in closed
form, Adam (lr 1e-3, ε 1e-8, or 1e-4 for `vae-binarized`), same thread count and batch size,
the three metrics read back each step as gan-rs does for metrics.csv. Prints one JSON object:
the median steps/s of the repeats.

    python torch_vae.py --preset vae --batch-size 128 --threads 2 --data-dir DIR
"""

# common first: it silences the wheel's NumPy warning before torch loads.
from common import arguments, load_images, load_labels, measure

import torch  # noqa: E402
from torch import nn  # noqa: E402

PRESETS = {
    "vae": dict(hidden=(512, 256), latent=16, act=nn.ReLU, binarize=False, eps=1e-8, cond=False),
    "cvae": dict(hidden=(512, 256), latent=16, act=nn.ReLU, binarize=False, eps=1e-8, cond=True),
    "vae-binarized": dict(hidden=(200, 200), latent=50, act=nn.Tanh, binarize=True, eps=1e-4, cond=False),
}


def mlp(widths, act):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def main():
    args = arguments(sorted(PRESETS), "vae", 128)
    p = PRESETS[args.preset]
    data = load_images(args.data_dir).float().view(-1, 784) / 255.0
    labels = load_labels(args.data_dir)
    extra = 10 if p["cond"] else 0
    latent = p["latent"]
    encoder = mlp([784 + extra, *p["hidden"], 2 * latent], p["act"])
    decoder = mlp([latent + extra, *reversed(p["hidden"]), 784], p["act"])
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=p["eps"])
    batch = args.batch_size

    def step():
        picked = torch.randint(0, data.shape[0], (batch,))
        x = data[picked]
        if p["binarize"]:
            x = torch.bernoulli(x)
        inputs, codes_extra = x, None
        if p["cond"]:
            codes_extra = nn.functional.one_hot(labels[picked], 10).float()
            inputs = torch.cat([x, codes_extra], 1)
        mean, log_var = encoder(inputs).chunk(2, 1)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        if codes_extra is not None:
            z = torch.cat([z, codes_extra], 1)
        logits = decoder(z)
        reconstruction = -nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none"
        ).sum(1)
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(1)
        loss = (kl - reconstruction).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item(), -reconstruction.mean().item(), kl.mean().item()

    measure(step, args)


if __name__ == "__main__":
    main()
