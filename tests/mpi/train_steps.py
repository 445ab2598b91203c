"""Run under mpiexec by tests/test_distributed.py: ten data-parallel steps of a small
network; rank 0 writes the losses and final parameters to OUT (.npz).

    python train_steps.py MODE OUT      MODE: plain | batchnorm | fail | trainer
Each rank seeds its network differently: DataParallel must broadcast rank 0's weights.
``trainer``: two epochs of fastnn.train.Trainer over 101 samples in batches of 50.
"""
import sys

import numpy as np

from fastnn import nets, optim
from fastnn.distributed import DataParallel, world
from fastnn.train import Trainer

mode, out = sys.argv[1], sys.argv[2]
comm = world()
rng = np.random.default_rng(0)
x, t = rng.standard_normal((200, 12)), rng.integers(0, 4, 200)
net = nets.MultiLayerNet(12, [16, 8], 4, weight_decay_lambda=0.01, use_batchnorm=mode == "batchnorm",
                         seed=100 + comm.rank)
model = DataParallel(net, comm)
if mode == "trainer":
    trainer = Trainer(model, x[:101], t[:101], x[:20], t[:20], epochs=2, mini_batch_size=50,
                      optimizer="adam", verbose=False, progress=False, seed=0)
    trainer.train()
    if comm.rank == 0:
        np.savez(out, losses=np.array(trainer.train_loss_list), **net.params)
    sys.exit(0)
opt = optim.Adam(lr=0.01)
losses = []
for step in range(10):
    batch = slice(step * 17 % 150, step * 17 % 150 + 31)  # 31 samples: uneven shards
    grads = model.gradient(x[batch], t[batch])
    opt.update(model.params, grads)
    losses.append(model.last_loss)
    if mode == "fail" and step == 3 and comm.rank == comm.size - 1:
        raise RuntimeError(f"rank {comm.rank} fails at step 3")
if comm.rank == 0:
    running = [layer.running_mean for layer in net.layers.values() if hasattr(layer, "running_mean")]
    np.savez(out, losses=np.array(losses), running=np.concatenate(running) if running else np.zeros(0),
             **net.params)
