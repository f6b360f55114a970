# ruff: noqa
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPageRequest(_message.Message):
    __slots__ = ("tenant", "timeline", "db_id", "page_no", "lsn", "wait_ms")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_NO_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    db_id: int
    page_no: int
    lsn: int
    wait_ms: int
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., db_id: _Optional[int] = ..., page_no: _Optional[int] = ..., lsn: _Optional[int] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class GetPageResponse(_message.Message):
    __slots__ = ("exists", "data", "page_lsn")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PAGE_LSN_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    data: bytes
    page_lsn: int
    def __init__(self, exists: _Optional[bool] = ..., data: _Optional[bytes] = ..., page_lsn: _Optional[int] = ...) -> None: ...

class GetPagesRequest(_message.Message):
    __slots__ = ("tenant", "timeline", "db_id", "page_nos", "lsn", "wait_ms")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_NOS_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    db_id: int
    page_nos: _containers.RepeatedScalarFieldContainer[int]
    lsn: int
    wait_ms: int
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., db_id: _Optional[int] = ..., page_nos: _Optional[_Iterable[int]] = ..., lsn: _Optional[int] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class GetPagesResponse(_message.Message):
    __slots__ = ("pages",)
    PAGES_FIELD_NUMBER: _ClassVar[int]
    pages: _containers.RepeatedCompositeFieldContainer[GetPageResponse]
    def __init__(self, pages: _Optional[_Iterable[_Union[GetPageResponse, _Mapping]]] = ...) -> None: ...

class DbSizeRequest(_message.Message):
    __slots__ = ("tenant", "timeline", "db_id", "lsn", "wait_ms")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    db_id: int
    lsn: int
    wait_ms: int
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., db_id: _Optional[int] = ..., lsn: _Optional[int] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class DbSizeResponse(_message.Message):
    __slots__ = ("pages",)
    PAGES_FIELD_NUMBER: _ClassVar[int]
    pages: int
    def __init__(self, pages: _Optional[int] = ...) -> None: ...

class CreateTimelineRequest(_message.Message):
    __slots__ = ("tenant", "timeline", "ancestor_timeline", "ancestor_lsn", "ancestor_timestamp_us", "wal_source", "log_timeline", "wait_ms")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    ANCESTOR_TIMELINE_FIELD_NUMBER: _ClassVar[int]
    ANCESTOR_LSN_FIELD_NUMBER: _ClassVar[int]
    ANCESTOR_TIMESTAMP_US_FIELD_NUMBER: _ClassVar[int]
    WAL_SOURCE_FIELD_NUMBER: _ClassVar[int]
    LOG_TIMELINE_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    ancestor_timeline: str
    ancestor_lsn: int
    ancestor_timestamp_us: int
    wal_source: str
    log_timeline: str
    wait_ms: int
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., ancestor_timeline: _Optional[str] = ..., ancestor_lsn: _Optional[int] = ..., ancestor_timestamp_us: _Optional[int] = ..., wal_source: _Optional[str] = ..., log_timeline: _Optional[str] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class GetTimelineRequest(_message.Message):
    __slots__ = ("tenant", "timeline")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ...) -> None: ...

class DeleteTimelineRequest(_message.Message):
    __slots__ = ("tenant", "timeline")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ...) -> None: ...

class DeleteTimelineResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LeaseLsnRequest(_message.Message):
    __slots__ = ("tenant", "timeline", "lsn", "ttl_ms")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    lsn: int
    ttl_ms: int
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., lsn: _Optional[int] = ..., ttl_ms: _Optional[int] = ...) -> None: ...

class LeaseLsnResponse(_message.Message):
    __slots__ = ("lsn", "valid_until_ms")
    LSN_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    lsn: int
    valid_until_ms: int
    def __init__(self, lsn: _Optional[int] = ..., valid_until_ms: _Optional[int] = ...) -> None: ...

class TimelineInfo(_message.Message):
    __slots__ = ("tenant", "timeline", "ancestor_timeline", "ancestor_lsn", "last_record_lsn", "remote_consistent_lsn", "gc_cutoff_lsn", "wal_source", "log_timeline", "layers_delta", "layers_image", "received_lsn", "last_commit_ts_us", "ingest_state", "consistent_lsn")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    ANCESTOR_TIMELINE_FIELD_NUMBER: _ClassVar[int]
    ANCESTOR_LSN_FIELD_NUMBER: _ClassVar[int]
    LAST_RECORD_LSN_FIELD_NUMBER: _ClassVar[int]
    REMOTE_CONSISTENT_LSN_FIELD_NUMBER: _ClassVar[int]
    GC_CUTOFF_LSN_FIELD_NUMBER: _ClassVar[int]
    WAL_SOURCE_FIELD_NUMBER: _ClassVar[int]
    LOG_TIMELINE_FIELD_NUMBER: _ClassVar[int]
    LAYERS_DELTA_FIELD_NUMBER: _ClassVar[int]
    LAYERS_IMAGE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_LSN_FIELD_NUMBER: _ClassVar[int]
    LAST_COMMIT_TS_US_FIELD_NUMBER: _ClassVar[int]
    INGEST_STATE_FIELD_NUMBER: _ClassVar[int]
    CONSISTENT_LSN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    ancestor_timeline: str
    ancestor_lsn: int
    last_record_lsn: int
    remote_consistent_lsn: int
    gc_cutoff_lsn: int
    wal_source: str
    log_timeline: str
    layers_delta: int
    layers_image: int
    received_lsn: int
    last_commit_ts_us: int
    ingest_state: str
    consistent_lsn: int
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., ancestor_timeline: _Optional[str] = ..., ancestor_lsn: _Optional[int] = ..., last_record_lsn: _Optional[int] = ..., remote_consistent_lsn: _Optional[int] = ..., gc_cutoff_lsn: _Optional[int] = ..., wal_source: _Optional[str] = ..., log_timeline: _Optional[str] = ..., layers_delta: _Optional[int] = ..., layers_image: _Optional[int] = ..., received_lsn: _Optional[int] = ..., last_commit_ts_us: _Optional[int] = ..., ingest_state: _Optional[str] = ..., consistent_lsn: _Optional[int] = ...) -> None: ...

class ListTimelinesRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class ListTimelinesResponse(_message.Message):
    __slots__ = ("timelines",)
    TIMELINES_FIELD_NUMBER: _ClassVar[int]
    timelines: _containers.RepeatedCompositeFieldContainer[TimelineInfo]
    def __init__(self, timelines: _Optional[_Iterable[_Union[TimelineInfo, _Mapping]]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("node_id", "object_store", "upload_queue", "tenants", "timelines", "local_layer_bytes", "remote_layer_bytes", "cached_layer_bytes", "uptime_s")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_STORE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_QUEUE_FIELD_NUMBER: _ClassVar[int]
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    TIMELINES_FIELD_NUMBER: _ClassVar[int]
    LOCAL_LAYER_BYTES_FIELD_NUMBER: _ClassVar[int]
    REMOTE_LAYER_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHED_LAYER_BYTES_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    object_store: str
    upload_queue: int
    tenants: int
    timelines: int
    local_layer_bytes: int
    remote_layer_bytes: int
    cached_layer_bytes: int
    uptime_s: float
    def __init__(self, node_id: _Optional[str] = ..., object_store: _Optional[str] = ..., upload_queue: _Optional[int] = ..., tenants: _Optional[int] = ..., timelines: _Optional[int] = ..., local_layer_bytes: _Optional[int] = ..., remote_layer_bytes: _Optional[int] = ..., cached_layer_bytes: _Optional[int] = ..., uptime_s: _Optional[float] = ...) -> None: ...

class WalRecordMsg(_message.Message):
    __slots__ = ("start_lsn", "payload")
    START_LSN_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    start_lsn: int
    payload: bytes
    def __init__(self, start_lsn: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...

class IngestWalRequest(_message.Message):
    __slots__ = ("tenant", "timeline", "records")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    records: _containers.RepeatedCompositeFieldContainer[WalRecordMsg]
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., records: _Optional[_Iterable[_Union[WalRecordMsg, _Mapping]]] = ...) -> None: ...

class IngestWalResponse(_message.Message):
    __slots__ = ("last_record_lsn", "applied", "skipped", "durable_lsn")
    LAST_RECORD_LSN_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    DURABLE_LSN_FIELD_NUMBER: _ClassVar[int]
    last_record_lsn: int
    applied: int
    skipped: int
    durable_lsn: int
    def __init__(self, last_record_lsn: _Optional[int] = ..., applied: _Optional[int] = ..., skipped: _Optional[int] = ..., durable_lsn: _Optional[int] = ...) -> None: ...

class MaintenanceRequest(_message.Message):
    __slots__ = ("tenant", "timeline", "op")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    op: str
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., op: _Optional[str] = ...) -> None: ...

class MaintenanceResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: str
    def __init__(self, result: _Optional[str] = ...) -> None: ...
