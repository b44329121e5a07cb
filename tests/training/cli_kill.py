"""Run a ``keras-rnn`` command that SIGKILLs itself at a chosen moment (for the kill tests).

    python tests/training/cli_kill.py --kill-at-step N -- train stock ...
    python tests/training/cli_kill.py --kill-at-publish K -- train text ...

``--kill-at-step N``: right after global train step N (the optimizer's iteration count,
resumed steps included), before anything is saved for it. ``--kill-at-publish K``: at the
K-th rename of a checkpoint file in this process (each save renames its data file, then its
``.index``, then the ``checkpoint`` list): inside a checkpoint write. The command is
``keras_rnn.cli.main``, the code path of the ``keras-rnn`` entry point.
"""

from __future__ import annotations

import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def kill() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install(kill_at_step: int | None, kill_at_publish: int | None) -> None:
    from keras_rnn.training import checkpoints, steps

    if kill_at_publish is not None:
        real_publish = checkpoints.publish
        calls = [0]

        def publish(src, dst):
            calls[0] += 1
            if calls[0] == kill_at_publish:
                kill()
            real_publish(src, dst)

        checkpoints.publish = publish
    if kill_at_step is not None:
        real_init = steps.Steps.__init__

        def init(self, *args, **kwargs):
            real_init(self, *args, **kwargs)
            train = self.train

            def train_then_maybe_die(batch):
                out = train(batch)
                if int(self.optimizer.iterations.numpy()) == kill_at_step:
                    kill()
                return out

            self.train = train_then_maybe_die

        steps.Steps.__init__ = init


def main(argv: list[str]) -> int:
    split = argv.index("--")
    own, command = argv[:split], argv[split + 1 :]
    step = int(own[own.index("--kill-at-step") + 1]) if "--kill-at-step" in own else None
    publish = int(own[own.index("--kill-at-publish") + 1]) if "--kill-at-publish" in own else None
    install(step, publish)
    from keras_rnn.cli import main as cli_main

    return cli_main(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
