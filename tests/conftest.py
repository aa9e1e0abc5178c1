import os

import torch

# one intra-op thread: tests run beside other processes (and pytest-xdist workers); oversubscribed
# BLAS threads make small CPU training runs 10× slower
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")
