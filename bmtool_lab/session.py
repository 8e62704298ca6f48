"""Sessions and provenance (the public path; the code is :mod:`bmtool_lab.tuning.session`).

```python
from bmtool_lab.session import export_session, open_session, to_python, provenance
```
"""

from __future__ import annotations

from .tuning.session import (
    KINDS,
    SESSION_FORMAT,
    SESSION_VERSION,
    SessionError,
    code_for,
    export_session,
    jsonable,
    load_session,
    open_session,
    provenance,
    save_json,
    sha256_file,
    to_python,
)

__all__ = ["SESSION_FORMAT", "SESSION_VERSION", "SessionError", "export_session", "load_session", "open_session",
           "provenance", "save_json", "sha256_file", "to_python", "jsonable", "code_for", "KINDS"]
