"""Run a command without network access: ``python -m peek.rollout.nonet -- COMMAND...``.

Plugin builds and import checks run code from an upload (``setup.py``, a
build backend, a plugin's module-level code). They need no network, and an
upload that reaches out (to fetch something, or to send something away)
must fail rather than succeed quietly. Before it replaces itself with the
command (``exec``), this launcher installs a seccomp filter that the command
and all its children inherit and cannot remove:

- ``socket()`` for any family but ``AF_UNIX`` fails with ``EACCES``
  (Python raises ``PermissionError``);
- ``io_uring_setup()`` fails too: io_uring can open sockets without
  ``socket()``;
- system calls of another ABI than the process's own (i386 or x32 on
  x86-64) fail, so that no other calling convention slips past.

A filter needs neither root nor namespaces (``no_new_privs`` is set first, as
the kernel requires), so it works inside the hardened systemd units, which
forbid new namespaces. Where it cannot be installed (another architecture,
a kernel without seccomp) the launcher says so on stderr in one line that
starts with :data:`UNAVAILABLE` and runs the command anyway; the caller
decides what to make of that.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import socket
import sys

__all__ = ["UNAVAILABLE", "command", "install"]

UNAVAILABLE = "peek-nonet: network isolation unavailable:"

# linux/audit.h, asm/unistd.h
_ARCHES = {
    # machine: (AUDIT_ARCH_*, __NR_socket, lowest number of a foreign ABI or None)
    "x86_64": (0xC000003E, 41, 0x40000000),  # x32 syscalls carry bit 30
    "aarch64": (0xC00000B7, 198, None),
}
_NR_IO_URING_SETUP = 425  # the same on both

# linux/filter.h, linux/seccomp.h, linux/prctl.h
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
# struct seccomp_data: nr, arch, instruction_pointer, args[6] (low word first)
_NR, _ARCH, _ARG0 = 0, 4, 16


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


def _program(machine: str) -> list[tuple[int, int, int, int]]:
    arch, nr_socket, foreign = _ARCHES[machine]
    # (code, jump if true, jump if false, k) with jumps named by label; "" is the next one.
    labelled: list[tuple[str, int, str, str, int]] = [
        ("", _LD_W_ABS, "", "", _ARCH),
        ("", _JEQ_K, "", "deny", arch),  # another ABI's numbering: deny all
        ("", _LD_W_ABS, "", "", _NR),
        ("", _JEQ_K, "", "not-socket", nr_socket),
        ("", _LD_W_ABS, "", "", _ARG0),
        ("", _JEQ_K, "allow", "deny", socket.AF_UNIX),
        ("not-socket", _JEQ_K, "deny", "", _NR_IO_URING_SETUP),
    ]
    if foreign is not None:
        labelled.append(("", _JGE_K, "deny", "", foreign))
    labelled += [
        ("allow", _RET_K, "", "", _RET_ALLOW),
        ("deny", _RET_K, "", "", _RET_ERRNO | errno.EACCES),
    ]
    at = {label: i for i, (label, *_) in enumerate(labelled) if label}

    def jump(i: int, label: str) -> int:
        return 0 if not label else at[label] - i - 1

    return [(code, jump(i, jt), jump(i, jf), k) for i, (_, code, jt, jf, k) in enumerate(labelled)]


def install() -> None:
    """Install the filter in this process (see the module). Raises ``OSError`` where the
    kernel or the architecture does not allow it."""
    machine = platform.machine()
    if machine not in _ARCHES:
        raise OSError(errno.ENOSYS, f"no filter for the {machine} architecture")
    program = _program(machine)
    filters = (_SockFilter * len(program))(*(_SockFilter(*ins) for ins in program))
    fprog = _SockFprog(len(program), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = (
        ctypes.c_int,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
    )
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(code)}")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_SECCOMP): {os.strerror(code)}")


def command(argv: list[str]) -> list[str]:
    """``argv`` run through this launcher (with this interpreter, isolated mode)."""
    return [sys.executable, "-I", "-m", "peek.rollout.nonet", "--", *argv]


def main(args: list[str]) -> None:
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit("usage: python -m peek.rollout.nonet -- COMMAND [ARG...]")
    try:
        install()
    except OSError as exc:
        sys.stderr.write(f"{UNAVAILABLE} {exc.strerror or exc}\n")
        sys.stderr.flush()
    os.execv(args[0], args)


if __name__ == "__main__":
    main(sys.argv[1:])
