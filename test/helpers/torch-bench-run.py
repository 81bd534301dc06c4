"""Run the training part of ../shared/bench/torch_reference.py (its own code, unchanged) and write
what colora needs to repeat it as JSON: the initial parameters (after the reference's
initialisation, LoRA A and B included), the token batch and the loss of the last step.

usage: python3 torch-bench-run.py REFERENCE.py OUT.json [reference args...]
Used by test/engine-bench-llama.test.ts."""
import json
import sys

ref, out, args = sys.argv[1], sys.argv[2], sys.argv[3:]
src = open(ref).read()
hook = 'opt = torch.optim.AdamW'
cut = 'train_tps ='
if hook not in src or cut not in src:
    sys.exit(f'{ref}: no "{hook}" / "{cut}" line to hook into')
dump = '_init = {n: (list(q.shape), q.detach().cpu().reshape(-1).tolist()) for n, q in m.named_parameters()}\n'
code = src[: src.index(cut)].replace(hook, dump + hook, 1)
sys.argv = [ref] + args
g = {'__name__': '__main__'}
exec(compile(code, ref, 'exec'), g)
with open(out, 'w') as f:
    json.dump({'params': g['_init'], 'tokens': g['x'].tolist(), 'loss': float(g['loss'])}, f)
