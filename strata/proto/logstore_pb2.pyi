# ruff: noqa
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TermEntry(_message.Message):
    __slots__ = ("term", "start_lsn")
    TERM_FIELD_NUMBER: _ClassVar[int]
    START_LSN_FIELD_NUMBER: _ClassVar[int]
    term: int
    start_lsn: int
    def __init__(self, term: _Optional[int] = ..., start_lsn: _Optional[int] = ...) -> None: ...

class VoteRequest(_message.Message):
    __slots__ = ("term", "rejoin", "proposer", "tenant", "timeline")
    TERM_FIELD_NUMBER: _ClassVar[int]
    REJOIN_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    term: int
    rejoin: bool
    proposer: str
    tenant: str
    timeline: str
    def __init__(self, term: _Optional[int] = ..., rejoin: _Optional[bool] = ..., proposer: _Optional[str] = ..., tenant: _Optional[str] = ..., timeline: _Optional[str] = ...) -> None: ...

class VoteResponse(_message.Message):
    __slots__ = ("granted", "promised_term", "term_history", "flush_lsn", "commit_lsn", "node_id")
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    PROMISED_TERM_FIELD_NUMBER: _ClassVar[int]
    TERM_HISTORY_FIELD_NUMBER: _ClassVar[int]
    FLUSH_LSN_FIELD_NUMBER: _ClassVar[int]
    COMMIT_LSN_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    granted: bool
    promised_term: int
    term_history: _containers.RepeatedCompositeFieldContainer[TermEntry]
    flush_lsn: int
    commit_lsn: int
    node_id: int
    def __init__(self, granted: _Optional[bool] = ..., promised_term: _Optional[int] = ..., term_history: _Optional[_Iterable[_Union[TermEntry, _Mapping]]] = ..., flush_lsn: _Optional[int] = ..., commit_lsn: _Optional[int] = ..., node_id: _Optional[int] = ...) -> None: ...

class StartTermRequest(_message.Message):
    __slots__ = ("term", "term_history", "truncate_lsn", "tenant", "timeline")
    TERM_FIELD_NUMBER: _ClassVar[int]
    TERM_HISTORY_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_LSN_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    term: int
    term_history: _containers.RepeatedCompositeFieldContainer[TermEntry]
    truncate_lsn: int
    tenant: str
    timeline: str
    def __init__(self, term: _Optional[int] = ..., term_history: _Optional[_Iterable[_Union[TermEntry, _Mapping]]] = ..., truncate_lsn: _Optional[int] = ..., tenant: _Optional[str] = ..., timeline: _Optional[str] = ...) -> None: ...

class StartTermResponse(_message.Message):
    __slots__ = ("flush_lsn",)
    FLUSH_LSN_FIELD_NUMBER: _ClassVar[int]
    flush_lsn: int
    def __init__(self, flush_lsn: _Optional[int] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("payload", "crc32c")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    crc32c: int
    def __init__(self, payload: _Optional[bytes] = ..., crc32c: _Optional[int] = ...) -> None: ...

class AppendRequest(_message.Message):
    __slots__ = ("term", "start_lsn", "records", "commit_lsn", "tenant", "timeline")
    TERM_FIELD_NUMBER: _ClassVar[int]
    START_LSN_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_LSN_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    term: int
    start_lsn: int
    records: _containers.RepeatedCompositeFieldContainer[Record]
    commit_lsn: int
    tenant: str
    timeline: str
    def __init__(self, term: _Optional[int] = ..., start_lsn: _Optional[int] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., commit_lsn: _Optional[int] = ..., tenant: _Optional[str] = ..., timeline: _Optional[str] = ...) -> None: ...

class AppendResponse(_message.Message):
    __slots__ = ("term", "flush_lsn", "commit_lsn", "end_lsn")
    TERM_FIELD_NUMBER: _ClassVar[int]
    FLUSH_LSN_FIELD_NUMBER: _ClassVar[int]
    COMMIT_LSN_FIELD_NUMBER: _ClassVar[int]
    END_LSN_FIELD_NUMBER: _ClassVar[int]
    term: int
    flush_lsn: int
    commit_lsn: int
    end_lsn: int
    def __init__(self, term: _Optional[int] = ..., flush_lsn: _Optional[int] = ..., commit_lsn: _Optional[int] = ..., end_lsn: _Optional[int] = ...) -> None: ...

class LogRecord(_message.Message):
    __slots__ = ("lsn", "term", "payload", "crc32c")
    LSN_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    lsn: int
    term: int
    payload: bytes
    crc32c: int
    def __init__(self, lsn: _Optional[int] = ..., term: _Optional[int] = ..., payload: _Optional[bytes] = ..., crc32c: _Optional[int] = ...) -> None: ...

class ReadRequest(_message.Message):
    __slots__ = ("from_lsn", "up_to_lsn", "max_bytes", "tenant", "timeline")
    FROM_LSN_FIELD_NUMBER: _ClassVar[int]
    UP_TO_LSN_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    from_lsn: int
    up_to_lsn: int
    max_bytes: int
    tenant: str
    timeline: str
    def __init__(self, from_lsn: _Optional[int] = ..., up_to_lsn: _Optional[int] = ..., max_bytes: _Optional[int] = ..., tenant: _Optional[str] = ..., timeline: _Optional[str] = ...) -> None: ...

class ReadResponse(_message.Message):
    __slots__ = ("records", "flush_lsn")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    FLUSH_LSN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[LogRecord]
    flush_lsn: int
    def __init__(self, records: _Optional[_Iterable[_Union[LogRecord, _Mapping]]] = ..., flush_lsn: _Optional[int] = ...) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("from_lsn", "tenant", "timeline", "subscriber")
    FROM_LSN_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    from_lsn: int
    tenant: str
    timeline: str
    subscriber: str
    def __init__(self, from_lsn: _Optional[int] = ..., tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., subscriber: _Optional[str] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("records", "commit_lsn")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_LSN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[LogRecord]
    commit_lsn: int
    def __init__(self, records: _Optional[_Iterable[_Union[LogRecord, _Mapping]]] = ..., commit_lsn: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("tenant", "timeline")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("start_lsn", "end_lsn", "local", "uploaded", "size_bytes")
    START_LSN_FIELD_NUMBER: _ClassVar[int]
    END_LSN_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    UPLOADED_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    start_lsn: int
    end_lsn: int
    local: bool
    uploaded: bool
    size_bytes: int
    def __init__(self, start_lsn: _Optional[int] = ..., end_lsn: _Optional[int] = ..., local: _Optional[bool] = ..., uploaded: _Optional[bool] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("node_id", "promised_term", "flush_lsn", "commit_lsn", "term_history", "segments", "remote_consistent_lsn", "first_lsn", "logs", "subscribers", "tenant", "timeline", "start_lsn")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PROMISED_TERM_FIELD_NUMBER: _ClassVar[int]
    FLUSH_LSN_FIELD_NUMBER: _ClassVar[int]
    COMMIT_LSN_FIELD_NUMBER: _ClassVar[int]
    TERM_HISTORY_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    REMOTE_CONSISTENT_LSN_FIELD_NUMBER: _ClassVar[int]
    FIRST_LSN_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    START_LSN_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    promised_term: int
    flush_lsn: int
    commit_lsn: int
    term_history: _containers.RepeatedCompositeFieldContainer[TermEntry]
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    remote_consistent_lsn: int
    first_lsn: int
    logs: _containers.RepeatedCompositeFieldContainer[LogInfo]
    subscribers: _containers.RepeatedCompositeFieldContainer[Subscriber]
    tenant: str
    timeline: str
    start_lsn: int
    def __init__(self, node_id: _Optional[int] = ..., promised_term: _Optional[int] = ..., flush_lsn: _Optional[int] = ..., commit_lsn: _Optional[int] = ..., term_history: _Optional[_Iterable[_Union[TermEntry, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., remote_consistent_lsn: _Optional[int] = ..., first_lsn: _Optional[int] = ..., logs: _Optional[_Iterable[_Union[LogInfo, _Mapping]]] = ..., subscribers: _Optional[_Iterable[_Union[Subscriber, _Mapping]]] = ..., tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., start_lsn: _Optional[int] = ...) -> None: ...

class RetentionRequest(_message.Message):
    __slots__ = ("remote_consistent_lsn", "tenant", "timeline")
    REMOTE_CONSISTENT_LSN_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    remote_consistent_lsn: int
    tenant: str
    timeline: str
    def __init__(self, remote_consistent_lsn: _Optional[int] = ..., tenant: _Optional[str] = ..., timeline: _Optional[str] = ...) -> None: ...

class RetentionResponse(_message.Message):
    __slots__ = ("remote_consistent_lsn",)
    REMOTE_CONSISTENT_LSN_FIELD_NUMBER: _ClassVar[int]
    remote_consistent_lsn: int
    def __init__(self, remote_consistent_lsn: _Optional[int] = ...) -> None: ...

class LogInfo(_message.Message):
    __slots__ = ("tenant", "timeline", "start_lsn", "promised_term", "flush_lsn", "commit_lsn")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    START_LSN_FIELD_NUMBER: _ClassVar[int]
    PROMISED_TERM_FIELD_NUMBER: _ClassVar[int]
    FLUSH_LSN_FIELD_NUMBER: _ClassVar[int]
    COMMIT_LSN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    start_lsn: int
    promised_term: int
    flush_lsn: int
    commit_lsn: int
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., start_lsn: _Optional[int] = ..., promised_term: _Optional[int] = ..., flush_lsn: _Optional[int] = ..., commit_lsn: _Optional[int] = ...) -> None: ...

class Subscriber(_message.Message):
    __slots__ = ("name", "peer", "sent_lsn")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    SENT_LSN_FIELD_NUMBER: _ClassVar[int]
    name: str
    peer: str
    sent_lsn: int
    def __init__(self, name: _Optional[str] = ..., peer: _Optional[str] = ..., sent_lsn: _Optional[int] = ...) -> None: ...

class CreateLogRequest(_message.Message):
    __slots__ = ("tenant", "timeline", "start_lsn")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    START_LSN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    start_lsn: int
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ..., start_lsn: _Optional[int] = ...) -> None: ...

class DeleteLogRequest(_message.Message):
    __slots__ = ("tenant", "timeline")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    timeline: str
    def __init__(self, tenant: _Optional[str] = ..., timeline: _Optional[str] = ...) -> None: ...

class DeleteLogResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListLogsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListLogsResponse(_message.Message):
    __slots__ = ("logs",)
    LOGS_FIELD_NUMBER: _ClassVar[int]
    logs: _containers.RepeatedCompositeFieldContainer[LogInfo]
    def __init__(self, logs: _Optional[_Iterable[_Union[LogInfo, _Mapping]]] = ...) -> None: ...
