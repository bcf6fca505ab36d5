"""The TeD-Loc head and its train step in PyTorch, the same arithmetic as the project's
lib/model/{tedloc,units,losses}.ts with the default run config (docs/tedloc_head.md):

- D: plain LayerNorm (no affine, ε 1e-5) → fc1 → exact-erf GELU → fc2 (weights [in, out]);
- g: linear d → 1; M = σ(g); c = Σ M z / (Σ M + 1e-6);
- cosine logits: x·rsqrt(Σx² + 1e-12) against frozen unit anchors, over τ = 0.07;
- L_KD: BCE with logits over the sampled FG (→1) and BG (→0) patches;
- P_CL on the gathered sampled patches: CE to the image's class for FG, −log(1 − p_y) for BG
  (weight pclBg 1), each a mean over its patches; I_CL: CE of the image scores;
- total = L_KD + P_CL + I_CL, Adam (β 0.9/0.999, ε 1e-8), lr 1e-3.

Sampling per image and step: FG without replacement ∝ cue among the top 20 % of the cue
map, BG uniformly among the bottom 10 % (8 + 8 patches), a random view (test/flip) per image.

Bench only: the product never runs PyTorch.
"""
import math

import torch
import torch.nn.functional as F


class TedLocTorch(torch.nn.Module):
    """D (LayerNorm → fc1 → GELU → fc2) and g (linear), frozen anchors `[C, d]`."""

    def __init__(self, d_in, hidden, d, anchors, tau=0.07, pool_eps=1e-6, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)

        def lin(i, o):  # uniform ±1/√fan_in, bias 0 (ours), stored [in, out]
            b = 1 / math.sqrt(i)
            return (torch.nn.Parameter((torch.rand(i, o, generator=gen) * 2 - 1) * b),
                    torch.nn.Parameter(torch.zeros(o)))

        self.w1, self.b1 = lin(d_in, hidden)
        self.w2, self.b2 = lin(hidden, d)
        self.wg, self.bg = lin(d, 1)
        self.register_buffer("anchors_t", anchors.t().contiguous())  # [d, C]
        self.tau, self.pool_eps = tau, pool_eps

    def anchor_logits(self, x):
        xn = x * torch.rsqrt((x * x).sum(-1, keepdim=True) + 1e-12)
        return (xn @ self.anchors_t) * (1 / self.tau)

    def forward(self, tokens):
        x = F.layer_norm(tokens, tokens.shape[-1:], eps=1e-5)
        z = F.gelu(x @ self.w1 + self.b1) @ self.w2 + self.b2  # [B, N, d]
        map_logits = (z @ self.wg + self.bg).squeeze(-1)  # [B, N]
        m = torch.sigmoid(map_logits)
        c = (z * m.unsqueeze(2)).sum(1) / (m.sum(1, keepdim=True) + self.pool_eps)
        return z, map_logits, self.anchor_logits(c)


def tedloc_losses(model, z, map_logits, scores, labels, fg_idx, bg_idx, pcl_bg=1.0):
    """(total, kd, pcl, icl). fg_idx/bg_idx: `[B, k]` patch indices per image."""
    B, N, d = z.shape
    rows = torch.arange(B).unsqueeze(1)
    fg_l, bg_l = map_logits[rows, fg_idx], map_logits[rows, bg_idx]
    kd = (F.binary_cross_entropy_with_logits(fg_l, torch.ones_like(fg_l), reduction="sum") +
          F.binary_cross_entropy_with_logits(bg_l, torch.zeros_like(bg_l), reduction="sum")
          ) / (fg_l.numel() + bg_l.numel())
    zf, zb = z[rows, fg_idx].reshape(-1, d), z[rows, bg_idx].reshape(-1, d)
    yf = labels.repeat_interleave(fg_idx.shape[1])
    yb = labels.repeat_interleave(bg_idx.shape[1])
    pcl = F.cross_entropy(model.anchor_logits(zf), yf)
    if pcl_bg:
        lb = model.anchor_logits(zb)
        log_z = torch.logsumexp(lb, -1)
        masked = lb.scatter(1, yb.unsqueeze(1), -1e9)
        pcl = pcl + pcl_bg * (log_z - torch.logsumexp(masked, -1)).mean()
    icl = F.cross_entropy(scores, labels)
    return kd + pcl + icl, kd, pcl, icl


def sample_fg_bg(cues, fg_frac=0.2, bg_frac=0.1, k_fg=8, k_bg=8):
    """Per image: FG ∝ cue among the top fg_frac, BG uniform among the bottom bg_frac."""
    B, N = cues.shape
    n_fg = max(1, round(fg_frac * N))
    n_bg = max(1, round(bg_frac * N))
    order = torch.argsort(cues, dim=1, descending=True)
    top, bottom = order[:, :n_fg], order[:, N - n_bg:]
    w = torch.gather(cues, 1, top).clamp_min(1e-12)
    fg = torch.gather(top, 1, torch.multinomial(w, k_fg, replacement=False))
    bg = torch.gather(bottom, 1, torch.multinomial(torch.ones(B, n_bg), k_bg, replacement=False))
    return fg, bg


class TrainBench:
    """Synthetic tokens `[n, 2 views, N, d_in]`, cues, labels; `step()` = one train step."""

    def __init__(self, n=192, classes=50, tokens=196, d_in=384, hidden=256, d=128, batch=32,
                 seed=0):
        g = torch.Generator().manual_seed(seed)
        self.tokens = torch.randn(n, 2, tokens, d_in, generator=g)
        self.cues = torch.rand(n, 2, tokens, generator=g)
        self.labels = torch.arange(n) % classes
        anchors, _ = torch.linalg.qr(torch.randn(d, classes, generator=g))
        self.model = TedLocTorch(d_in, hidden, d, anchors.t().contiguous())
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, betas=(0.9, 0.999),
                                    eps=1e-8)
        self.n, self.batch, self.order, self.at = n, batch, torch.randperm(n), 0

    def step(self):
        if self.at + self.batch > self.n:
            self.order, self.at = torch.randperm(self.n), 0
        items = self.order[self.at:self.at + self.batch]
        self.at += self.batch
        views = torch.randint(0, 2, (len(items),))
        x, cue = self.tokens[items, views], self.cues[items, views]
        y = self.labels[items]
        fg, bg = sample_fg_bg(cue)
        z, ml, s = self.model(x)
        total, *_ = tedloc_losses(self.model, z, ml, s, y, fg, bg)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        return total
