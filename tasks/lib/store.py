"""The one store writer: atomic Parquet/JSON writes under a local path or fsspec URL."""
from __future__ import annotations

import io
import json
import os
import re
import uuid
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from data_contracts.schemas import TableSpec, to_table

DEFAULT_STORE = "./serflow-store"
# A day's calls and segments are one small Parquet file per call. One scan over 10,000 of them held every
# file's metadata and column chunks at once: +1.4 GB for 7 MB of rows, and glibc kept most of it after.
# Scanning this many files at a time, each group's chunks combined, holds one group's (+0.1 GB).
FILES_PER_SCAN = 256


# Corpus and model names become folder names in the store: letters, digits, '_', '.', '-', no '..'.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class InvalidName(ValueError):
    """A corpus or model name that could not be a single folder inside the store."""


def checked_name(name: str, what: str) -> str:
    """`name` if it is a safe single folder name, else InvalidName saying what is allowed."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise InvalidName(f"{what} name {name!r} is not allowed: use letters, digits, '_', '.' and '-' "
                          "(no '/', no '..')")
    return name


def default_store() -> str:
    """$SERFLOW_STORE when set, else ./serflow-store."""
    return os.environ.get("SERFLOW_STORE", DEFAULT_STORE)


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """String columns only: on a float column (a feature vector) pyarrow tries a dictionary, gives up at
    the page limit, and the part is slower to write and bigger than plain (docs/benchmarks.md)."""
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


class Store:
    """All serflow tables live under one root; writers never leave a partial file behind.

    The one handle every layer takes: built once from the URL where a command or flow starts
    (`Store.open`), then passed down (and pickled to Dask workers as its URL).
    """

    def __init__(self, root: str) -> None:
        self.url = root
        self.fs, self.root = fsspec.core.url_to_fs(root)
        self.fs.makedirs(self.root, exist_ok=True)

    @classmethod
    def open(cls, store: Store | str | None = None) -> Store:
        """A handle for a URL or path ($SERFLOW_STORE, else ./serflow-store, when None)."""
        return store if isinstance(store, Store) else cls(store or default_store())

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return Store, (self.url,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Store) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __str__(self) -> str:
        return self.url

    @property
    def is_local(self) -> bool:
        return "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def path(self, *parts: str) -> str:
        return str(PurePosixPath(self.root, *parts))

    def url_of(self, path: str) -> str:
        """What to show a user for a path of this store: the path itself locally, else its full URL."""
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def write_bytes(self, data: bytes, relpath: str) -> str:
        """Write to a hidden temporary name beside the target, then rename over it; on object storage a
        single PUT, which is all-or-nothing already (a rename there is a copy and a delete)."""
        target = self.path(relpath)
        if not self.is_local:
            self.fs.pipe_file(target, data)
            return target
        parent = str(PurePosixPath(target).parent)
        self.fs.makedirs(parent, exist_ok=True)
        tmp = str(PurePosixPath(parent, f".{PurePosixPath(target).name}.{uuid.uuid4().hex}.tmp"))
        try:
            with self.fs.open(tmp, "wb") as fh:
                fh.write(data)
            self.fs.mv(tmp, target)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
        return target

    def write_table(self, table: pa.Table, relpath: str) -> str:
        """Atomically write (or replace) one Parquet file."""
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd", use_dictionary=_dictionary_columns(table.schema))
        return self.write_bytes(buf.getvalue(), relpath)

    def write_json(self, obj: Any, relpath: str) -> str:
        return self.write_bytes(json.dumps(obj, indent=2, default=str).encode(), relpath)

    def list_parquet(self, relpath: str) -> list[str]:
        """Finished Parquet files under a table folder (temporary files are hidden)."""
        base = self.path(relpath)
        if not self.fs.exists(base):
            return []
        return sorted(p for p in self.fs.find(base) if p.endswith(".parquet")
                      and not PurePosixPath(p).name.startswith("."))

    def partition_dir(self, spec: TableSpec, values: dict[str, str]) -> str:
        """Relative folder of one partition, e.g. manifests/utterances/corpus=emodb."""
        return "/".join([spec.path, *(f"{c}={values[c]}" for c in spec.partition_by)])

    def write_partition(self, spec: TableSpec, frame: pd.DataFrame | pa.Table, values: dict[str, str],
                        filename: str = "data.parquet") -> str:
        """Cast to the table's contract and write one file of one partition atomically."""
        if isinstance(frame, pd.DataFrame):
            frame = frame.assign(**values)
            table = to_table(frame, spec.schema)
        else:
            table = frame
        table = table.select(spec.file_schema.names).cast(spec.file_schema)
        return self.write_table(table, f"{self.partition_dir(spec, values)}/{filename}")

    def read(self, spec: TableSpec, filter: ds.Expression | None = None,
             columns: list[str] | None = None) -> pd.DataFrame:
        """A whole table (partition keys restored as columns), empty with the right columns if unwritten."""
        files = self.list_parquet(spec.path)
        if not files:
            return spec.schema.empty_table().to_pandas()
        groups = [files[i:i + FILES_PER_SCAN] for i in range(0, len(files), FILES_PER_SCAN)]
        return pa.concat_tables([self._scan(spec, group, filter, columns) for group in groups]).to_pandas()

    def _scan(self, spec: TableSpec, files: list[str], filter: ds.Expression | None,
              columns: list[str] | None) -> pa.Table:
        """Rows of FILES as one table with one chunk per column."""
        dataset = ds.dataset(files, filesystem=self.fs, format="parquet", schema=spec.schema,
                             partitioning=ds.partitioning(spec.partition_schema, flavor="hive"),
                             partition_base_dir=self.path(spec.path))
        return dataset.to_table(filter=filter, columns=columns).combine_chunks()
