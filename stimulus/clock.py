"""The one clock of the stimulus side: LSL's ``local_clock``, as every marker uses.

liblsl reads its API config when pylsl is first imported, so the loopback
default is put in place here, before the import, for anyone who reaches
pylsl through this module.
"""
from __future__ import annotations

from configs import use_lsl_config

use_lsl_config()

from pylsl import local_clock  # noqa: E402

__all__ = ["local_clock"]
