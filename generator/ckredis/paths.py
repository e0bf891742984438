"""The one place that knows where templates and schemas live: a checkout or an installed wheel."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    # A wheel force-includes the folders into the package; a checkout keeps them at its top level, beside generator/.
    for candidate in (_PACKAGE / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"ckredis is installed without its {name}/ folder")


TEMPLATES_DIR = _data_dir("templates")
SCHEMA_FILE = _data_dir("schemas") / "ckredis-spec.schema.json"
