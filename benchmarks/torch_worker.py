"""One measurement of a torchvision peer, in its own process (never imports kcnn or Keras).

Same batch, input size, optimizer (SGD, momentum 0.9), loss (cross-entropy on logits) and
precision as the kcnn row: bf16 is `torch.autocast("cpu", torch.bfloat16)`.

    python -m benchmarks.torch_worker --mode full --case resnet50 --task train \
        --precision fp32 --out result.json
"""

import argparse

import torch
import torchvision

from benchmarks import settings
from benchmarks._timing import latency, log, peak_rss_mib, rss_mib, throughput, write_result


def build(case):
    kwargs = {"weights": None, "num_classes": case.num_classes}
    if case.torch_name == "googlenet":
        kwargs.update(aux_logits=False, init_weights=True)  # kcnn's googlenet: no aux heads
    return getattr(torchvision.models, case.torch_name)(**kwargs)


def synthetic(case, batch, channels_last):
    g = torch.Generator().manual_seed(0)
    h, w, c = case.input_shape
    images = torch.randn(batch, c, h, w, generator=g)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, case.num_classes, (batch,), generator=g)
    return images, labels


def autocast(precision):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def train(case, model, args):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.LR, momentum=settings.MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    images, labels = synthetic(case, case.train_batch, args.channels_last)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(args.precision):
            loss = loss_fn(model(images).float(), labels)
        loss.backward()
        optimizer.step()
        return loss

    result = throughput(step, lambda loss: loss.item(), batch=case.train_batch,
                        warmup=case.warmup_steps, steps=case.timed_steps,
                        rounds=settings.ROUNDS[args.mode])
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def infer(case, model, args):
    model.eval()
    images, _ = synthetic(case, case.infer_batch, args.channels_last)

    def call(x):
        with torch.inference_mode(), autocast(args.precision):
            return model(x)

    result = throughput(lambda: call(images), lambda out: out.sum().item(),
                        batch=case.infer_batch, warmup=2, steps=max(2, case.timed_steps))
    one = images[:1].clone()
    result.update(latency({"latency": (lambda: call(one), lambda out: out.sum().item())},
                          settings.LATENCY_REPEATS[args.mode]))
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("full", "smoke"), required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--task", choices=("train", "infer"), required=True)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--channels-last", type=int, choices=(0, 1), default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    case = settings.case(args.mode, args.case)
    if not case.torch_name:
        parser.error(f"{case.name} has no torchvision peer.")
    torch.manual_seed(0)
    baseline = rss_mib()
    model = build(case)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    log(f"torchvision {case.torch_name} {args.task} {args.precision} "
        f"channels_last={args.channels_last} threads={torch.get_num_threads()}")
    result = {"framework_rss_mib": baseline, "torch": torch.__version__,
              "torchvision": torchvision.__version__, "threads": torch.get_num_threads(),
              "params": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    result.update(train(case, model, args) if args.task == "train" else infer(case, model, args))
    write_result(args.out, result)


if __name__ == "__main__":
    main()
