#!/usr/bin/env python3
"""PyTorch CPU speed baseline for one training step (forward + backward + AdamW) of fragnet,
fast-vqa-b, fast-vqa-m or simplevqa (the PyTorch twins in scripts/reference/{fragnet,fastvqa,simplevqa}.py).

Same loss (plcc + 0.3 rank; L1 for a batch of 1, where both batch losses are undefined and
vqa-mpi back-propagates a zero gradient through the same graph), optimiser (AdamW, head 1e-3,
backbone x0.1, wd 0.05) and AWP step as `vqa-mpi bench engine`. Prints one JSON line:
  step_ms      median wall time of a plain training step (after warm-up)
  awp_step_ms  median wall time of the full two-pass AWP step (only with --awp)
  params       parameter count
  model_gflop  FLOPs of one plain training step: 2 x multiply-accumulates of one forward
               pass, x3 for forward + backward (input grad + weight grad). fragnet: conv layers
               only; fast-vqa-b/-m / simplevqa: torch.utils.flop_counter (convs and matmuls).
               Norms, activations, the loss and AdamW are not counted. An AWP step is 2x.
Timing noise: on a shared, oversubscribed machine libgomp's spinning barriers make multi-thread
torch steps up to 50x slower; run with OMP_WAIT_POLICY=PASSIVE there (recorded in the JSON, with
the 1-minute load average) and compare figures taken under the same load.
With --official-repo PATH (fast-vqa-b/-m), the model is the OFFICIAL FAST-VQA code instead of our
twin: `DiViDeAddEvaluator` built from the clone's option file (options/fast/fast-b.yml or fast-m.yml)
as scripts/reference/official_fastvqa.py builds it, trained through its backbone and head with the
official default forward (adaptive windows: 2x2x2 for fast-vqa-m at 16x128x128, the same as
vqa-mpi's default). The official backbones are built with gradient checkpointing on (the
`swin_tiny_grpb*` constructors ignore the option file's `checkpoint: false`); --official-checkpoint off
turns it off in every block (no recomputation in backward, the like-for-like setting).
Usage: torch_engine.py [--model fragnet|fast-vqa-b|fast-vqa-m|simplevqa] [--depth 50] [--motion-dim D] --batch 4
                       --frames 8 --size 224 --threads 2 [--awp] [--channels-last]
                       [--official-repo PATH [--official-checkpoint as-built|off]]
  e.g. torch_engine.py --model fast-vqa-b --batch 1 --frames 32 --size 224 --awp
       torch_engine.py --model fast-vqa-m --batch 1 --frames 16 --size 128 --awp
       torch_engine.py --model simplevqa --batch 1 --frames 8 --size 448 --awp [--motion-dim 2304]
Needs torch==2.13.0+cpu (scripts/reference/requirements.txt).
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import fragnet  # noqa: E402
import fastvqa  # noqa: E402
import simplevqa  # noqa: E402

HEAD_PREFIXES = ("head.", "vqa_head.", "quality.")


class ScoresOnly(torch.nn.Module):
    """simplevqa's forward returns scores; the shared train_step expects (scores, map). With
    motion_dim > 0 a fixed random motion tensor [N, T, D] goes with every batch of N clips
    (as `vqa-mpi bench engine --model-option motion_dim=D`)."""

    def __init__(self, model, seed=0):
        super().__init__()
        self.model = model
        self.seed = seed

    def forward(self, x):
        motion = None
        if self.model.motion_dim:
            gen = torch.Generator().manual_seed(self.seed + 2)
            motion = torch.rand(x.shape[0], x.shape[2], self.model.motion_dim, generator=gen) - 0.5
        return self.model(x, motion), None


def parse():
    ap = argparse.ArgumentParser(description="PyTorch CPU baseline for a training step")
    ap.add_argument("--model", default="fragnet", choices=["fragnet", "fast-vqa-b", "fast-vqa-m", "simplevqa"])
    ap.add_argument("--depth", type=int, default=50, help="simplevqa ResNet depth")
    ap.add_argument("--motion-dim", type=int, default=0, help="simplevqa motion features per frame (SlowFast: 2304)")
    ap.add_argument("--batch", type=int, default=4, help="clips per step (1: L1 loss)")
    ap.add_argument("--frames", type=int, default=8, help="frames per clip (even)")
    ap.add_argument("--size", type=int, default=224, help="height = width (fragnet: a multiple of 32)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument("--widths", type=int, nargs=4, default=list(fragnet.DEFAULT_WIDTHS))
    ap.add_argument("--head-hidden", type=int, default=64)
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--awp", action="store_true", help="also time the two-pass AWP step")
    ap.add_argument("--gamma", type=float, default=1e-4, help="AWP gamma (seed default 1e-4)")
    ap.add_argument("--channels-last", action="store_true", help="channels_last_3d memory format")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--official-repo", default=None,
                    help="fast-vqa-b/-m: time the official FAST-VQA model from this clone of "
                         "VQAssessment/FAST-VQA-and-FasterVQA instead of the twin")
    ap.add_argument("--official-checkpoint", default="as-built", choices=["as-built", "off"],
                    help="official model: keep its gradient checkpointing (as built) or turn it off")
    args = ap.parse_args()
    if args.official_repo is not None:
        if args.model not in ("fast-vqa-b", "fast-vqa-m"):
            ap.error(f"--official-repo applies to fast-vqa-b and fast-vqa-m only, not {args.model}")
        if not os.path.isfile(os.path.join(args.official_repo, "fastvqa", "models", "__init__.py")):
            ap.error(f"--official-repo {args.official_repo}: no fastvqa/models/__init__.py there; clone "
                     "https://github.com/VQAssessment/FAST-VQA-and-FasterVQA and pass its directory")
    if args.batch < 1:
        ap.error(f"--batch {args.batch}: needs at least 1 clip")
    if args.model != "simplevqa" and (args.frames % 2 or args.frames < 2):
        ap.error(f"--frames {args.frames}: must be even (the patch embedding has temporal stride 2)")
    if args.model == "fragnet" and (args.size % 32 or args.size < 32):
        ap.error(f"--size {args.size}: must be a positive multiple of 32 (e.g. 224)")
    if any(w % args.groups for w in args.widths):
        ap.error(f"--widths {args.widths}: every width must be divisible by --groups {args.groups}")
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    return args


def time_steps(fn, warmup, steps):
    """Median milliseconds of fn() over `steps` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), times


class OfficialFastVQA(torch.nn.Module):
    """The official DiViDeAddEvaluator's fragments backbone and VQA head; forward returns
    (scores, quality map) like the twin. The official code prints on every forward (the adaptive
    window size): silenced here."""

    def __init__(self, evaluator):
        super().__init__()
        self.backbone = evaluator.fragments_backbone
        self.vqa_head = evaluator.vqa_head

    def forward(self, x):
        with contextlib.redirect_stdout(io.StringIO()):
            qmap = self.vqa_head(self.backbone(x))  # official default: adaptive_window_size=True
        return qmap.mean(dim=(1, 2, 3, 4)), qmap


def build_official(args):
    """The official fast-vqa-b/-m (option file fast-b.yml / fast-m.yml), as official_fastvqa.py builds it."""
    import official_fastvqa as off
    off.install_import_shims()
    models = off.load_official(args.official_repo)
    option = "options/fast/fast-b.yml" if args.model == "fast-vqa-b" else "options/fast/fast-m.yml"
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator, _ = off.build(models, args.official_repo, option)
    model = OfficialFastVQA(evaluator)
    bb = model.backbone
    with contextlib.redirect_stdout(io.StringIO()):
        window = models.swin_backbone.get_adaptive_window_size(tuple(bb.window_size), (args.frames, args.size, args.size),
                                                               tuple(bb.base_x_size))
    if min(window) < 1:
        sys.exit(f"torch_engine.py: the official {args.model} cannot run {args.frames}x{args.size}x{args.size} clips: its "
                 f"adaptive window would be {tuple(window)} (window {tuple(bb.window_size)} x clip / {tuple(bb.base_x_size)}, "
                 "rounded down; a 0 fails inside the official code). Use at least "
                 f"{bb.base_x_size[0] // bb.window_size[0]} frames and {-(-bb.base_x_size[1] // bb.window_size[1])} pixels.")
    checkpointed = [m for m in model.modules() if getattr(m, "use_checkpoint", False)]
    if args.official_checkpoint == "off":
        for m in checkpointed:
            m.use_checkpoint = False
    return model, len(checkpointed)


def build(args, shape):
    """The model (forward returns (scores, map)) and the MACs of one forward pass."""
    if args.model == "fragnet":
        model = fragnet.FragNet(args.widths, args.head_hidden, args.groups, args.dropout)
        return model, fragnet.conv_macs(model, shape)
    if args.official_repo is not None:
        model, _ = build_official(args)
    elif args.model in ("fast-vqa-b", "fast-vqa-m"):
        preset = fastvqa.FAST_VQA_B if args.model == "fast-vqa-b" else fastvqa.FAST_VQA_M
        model = fastvqa.FastVQA(**preset, dropout=args.dropout, drop_path_rate=0.1)
    else:
        model = ScoresOnly(simplevqa.SimpleVQA(depth=args.depth, motion_dim=args.motion_dim), seed=args.seed)
    from torch.utils.flop_counter import FlopCounterMode
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(*shape))
    return model, counter.get_total_flops() / 2


def make_adamw(model, lr=1e-3, backbone_mult=0.1, wd=0.05):
    """AdamW: head (names starting with HEAD_PREFIXES) at lr, the rest at lr*backbone_mult."""
    named = list(model.named_parameters())
    strip = lambda n: n[len("model."):] if n.startswith("model.") else n
    head = [p for n, p in named if strip(n).startswith(HEAD_PREFIXES)]
    backbone = [p for n, p in named if not strip(n).startswith(HEAD_PREFIXES)]
    groups = [{"params": backbone, "lr": lr * backbone_mult}, {"params": head, "lr": lr}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd, foreach=False)


def train_step(model, opt, x, y, awp_gamma=None):
    """fragnet.train_step; with one clip the L1 loss replaces the undefined batch losses."""
    if x.shape[0] > 1:
        return fragnet.train_step(model, opt, x, y, awp_gamma)
    opt.zero_grad(set_to_none=False)
    loss = (model(x)[0] - y).abs().mean()
    loss.backward()
    if awp_gamma is not None:
        backup = fragnet.awp_perturb(model, awp_gamma)
        opt.zero_grad(set_to_none=False)
        (model(x)[0] - y).abs().mean().backward()
        fragnet.awp_restore(model, backup)
    opt.step()
    return loss.detach(), None


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    shape = (args.batch, 3, args.frames, args.size, args.size)
    model, macs = build(args, shape)
    model.train()
    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(*shape, generator=gen)
    y = 1.0 + 4.0 * torch.rand(args.batch, generator=gen)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    opt = make_adamw(model)

    step_ms, step_all = time_steps(lambda: train_step(model, opt, x, y),
                                   args.warmup, args.steps)
    result = {
        "bench": "torch_engine", "model": args.model, "loss": "plcc+0.3rank" if args.batch > 1 else "l1", "batch": args.batch, "frames": args.frames,
        "size": args.size, "widths": args.widths if args.model == "fragnet" else None,
        "depth": args.depth if args.model == "simplevqa" else None, "motion_dim": args.motion_dim if args.model == "simplevqa" else None, "channels_last": args.channels_last,
        "step_ms": round(step_ms, 2), "step_ms_all": [round(t, 2) for t in step_all],
        "params": sum(p.numel() for p in model.parameters()),
        "peak_rss_mb": None,
        "forward_gflop": round(2 * macs / 1e9, 3), "model_gflop": round(3 * 2 * macs / 1e9, 3),
        "step_gflops": round(3 * 2 * macs / 1e9 / (step_ms / 1e3), 2),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "implementation": "twin" if args.official_repo is None else "official",
        "official_checkpoint": None if args.official_repo is None else args.official_checkpoint,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "loadavg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }
    if args.awp:
        awp_ms, awp_all = time_steps(lambda: train_step(model, opt, x, y, args.gamma),
                                     args.warmup, args.steps)
        result.update(awp_step_ms=round(awp_ms, 2), awp_step_ms_all=[round(t, 2) for t in awp_all],
                      awp_gamma=args.gamma, awp_step_gflops=round(6 * 2 * macs / 1e9 / (awp_ms / 1e3), 2))
    import resource
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
