"""Find LabRecorderCLI in the installed ``labrecorder`` wheel and make it runnable.

The wheel's binary crashes in the dynamic loader before ``main()``: its
packaging left ``.dynamic`` on a page mapped by a PT_LOAD segment without
the write flag (patchelf bug NixOS/patchelf#146), and ld.so writes to
``.dynamic`` while relocating. A copy with PF_W set on every PT_LOAD that
maps the page holding PT_DYNAMIC runs normally. The installed file is never
modified.
"""
from __future__ import annotations

import os
import shutil
import struct
import sysconfig
from pathlib import Path

PT_LOAD = 1
PT_DYNAMIC = 2
PF_W = 2
INSTALL_HINT = "LabRecorderCLI not found: install the test extras (Linux) with  pip install -e '.[test]'"


class LabRecorderMissing(RuntimeError):
    """The labrecorder wheel (and so LabRecorderCLI) is not installed."""


def find_installed() -> tuple[Path, Path]:
    """The wheel's LabRecorderCLI and its bundled library folder."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    binary = purelib / "bin" / "LabRecorderCLI"
    libs = purelib / "labrecorder.libs"
    if not binary.is_file():
        raise LabRecorderMissing(INSTALL_HINT)
    return binary, libs


def program_headers(elf: bytes) -> list[tuple[int, int, int, int, int, int]]:
    """(header offset, p_type, p_flags, p_vaddr, p_memsz, p_align) of every ELF64 program header."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError("not a little-endian ELF64 file")
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    headers = []
    for i in range(phnum):
        at = phoff + i * phentsize
        p_type, p_flags, _offset, vaddr, _paddr, _filesz, memsz, align = struct.unpack_from("<IIQQQQQQ", elf, at)
        headers.append((at, p_type, p_flags, vaddr, memsz, align))
    return headers


def make_dynamic_writable(elf: bytearray) -> int:
    """Set PF_W on each PT_LOAD whose mapped pages hold PT_DYNAMIC's vaddr; returns how many changed."""
    headers = program_headers(bytes(elf))
    dynamic = [vaddr for _, p_type, _, vaddr, _, _ in headers if p_type == PT_DYNAMIC]
    if not dynamic:
        return 0
    changed = 0
    for at, p_type, p_flags, vaddr, memsz, align in headers:
        page = max(align, 1)
        first, end = vaddr & ~(page - 1), (vaddr + memsz + page - 1) & ~(page - 1)
        if p_type == PT_LOAD and first <= dynamic[0] < end and not p_flags & PF_W:
            struct.pack_into("<I", elf, at + 4, p_flags | PF_W)
            changed += 1
    return changed


def prepare(workdir: Path) -> tuple[Path, dict[str, str]]:
    """A patched, runnable copy of LabRecorderCLI in ``workdir`` and the env entries it needs."""
    binary, libs = find_installed()
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / "LabRecorderCLI"
    elf = bytearray(binary.read_bytes())
    make_dynamic_writable(elf)
    copy.write_bytes(bytes(elf))
    shutil.copymode(binary, copy)
    library_path = os.pathsep.join(p for p in (str(libs), os.environ.get("LD_LIBRARY_PATH", "")) if p)
    return copy, {"LD_LIBRARY_PATH": library_path}
