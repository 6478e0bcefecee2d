"""Measures the reference implementation (apple/ml-quant) on this machine, in the shapes of TrainingBenchmarks.

Usage: python3 reference_cpu.py --ml-quant PATH [--threads N] [--channels-last]

PATH is a checkout of https://github.com/apple/ml-quant (only its `quant` package and PyTorch are imported). The
script builds the reference's own QResNet (CIFAR stem, width 64, ResNet-18, 100 classes), runs training steps
(batch 32, Adam lr 2e-4, cross-entropy or the reference's KD criterion with T = 5) and evaluation batches
(batch 100) on random 3x32x32 data, and prints images/s per configuration in the order our benchmark uses, so
that both can be run back to back on the same machine.
"""
import argparse
import sys
import time

import torch


def layer(x_quant, w_quant):
    if x_quant == 'fp' and w_quant == 'fp':
        return {'x_quant': 'fp', 'w_quant': 'fp', 'clamp': {'kind': 'identity'}}
    return {'x_quant': x_quant, 'w_quant': w_quant, 'clamp': {'kind': 'symmetric', 'alpha': 2},
            'double_shortcut': True}


def build(QResNet, x_quant, w_quant):
    quantized = not (x_quant == 'fp' and w_quant == 'fp')
    cfg = layer(x_quant, w_quant)
    return QResNet(
        loss_fn=torch.nn.functional.cross_entropy,
        block='xnor' if quantized else 'regular',
        layer0={'n_in_channels': 64, 'kernel_size': 3, 'stride': 1, 'padding': 1, 'bias': False,
                'maxpool': {'type': 'identity'}},
        layer1=cfg, layer2=cfg, layer3=cfg, layer4=cfg,
        nonlins=['relu', 'relu'], num_blocks=[2, 2, 2, 2], output_classes=100)


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - start) / runs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--ml-quant', required=True)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, args.ml_quant)
    from quant.models.resnet import QResNet
    from quant.utils.kd_criterion import kd_criterion

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    print(f'torch {torch.__version__}, threads {torch.get_num_threads()}, mkldnn {torch.backends.mkldnn.is_available()}, '
          f'layout {"channels_last" if args.channels_last else "NCHW"}')
    train_x = torch.randn(32, 3, 32, 32).contiguous(memory_format=fmt)
    labels = torch.randint(0, 100, (32,))
    eval_x = torch.randn(100, 3, 32, 32).contiguous(memory_format=fmt)
    teacher = build(QResNet, 'fp', 'fp').to(memory_format=fmt).eval()

    for name in ['fp/fp', 'ls-1/ls-1', 'ls-2/ls-1', 'ls-2/ls-1+KD']:
        x_quant, w_quant = name.split('+')[0].split('/')
        kd = name.endswith('+KD')
        model = build(QResNet, x_quant, w_quant).to(memory_format=fmt)
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)

        def step():
            model.train()
            optimizer.zero_grad()
            out = model(train_x)
            if kd:
                with torch.no_grad():
                    t = teacher(train_x)
                loss = kd_criterion(out, t, labels, 5.0)
            else:
                loss = torch.nn.functional.cross_entropy(out, labels)
            loss.backward()
            optimizer.step()

        def evaluate():
            model.eval()
            with torch.no_grad():
                model(eval_x)

        train = 32 / timed(step, 2, args.runs)
        line = f'{name:14s} train {train:7.1f} images/s'
        if not kd:
            line += f'   eval {100 / timed(evaluate, 1, args.runs):7.1f} images/s'
        print(line, flush=True)


if __name__ == '__main__':
    main()
