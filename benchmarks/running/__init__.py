"""Running: a suite becomes RunSpecs (suite, sizing), each is trained (train, runner) and recorded
(store, checkpoint), in this process, over many devices and hosts (distributed) or as cluster jobs
(executors), with optional W&B logging (wandb_log); `perf` measures how fast the trainer runs."""
