"""Blob storage behind one small interface: a local directory or any S3-compatible bucket."""

from api.storage.backends import (
    BlobNotFound,
    LocalStorage,
    S3Storage,
    Storage,
    StorageFull,
    StorageUnavailable,
    open_storage,
)

__all__ = [
    "BlobNotFound",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "StorageFull",
    "StorageUnavailable",
    "open_storage",
]
