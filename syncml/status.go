package syncml

import "strconv"

// StatusCode is a SyncML status code (OMA-TS-SyncML_RepPro 1.2.2, 10).
type StatusCode int

const (
	StatusOK                   StatusCode = 200
	StatusItemAdded            StatusCode = 201
	StatusConflictMerged       StatusCode = 207
	StatusConflictClientWon    StatusCode = 208
	StatusConflictDuplicate    StatusCode = 209
	StatusItemNotDeleted       StatusCode = 211
	StatusAuthAccepted         StatusCode = 212
	StatusChunkAccepted        StatusCode = 213
	StatusBadRequest           StatusCode = 400
	StatusInvalidCredentials   StatusCode = 401
	StatusForbidden            StatusCode = 403
	StatusNotFound             StatusCode = 404
	StatusCommandNotAllowed    StatusCode = 405
	StatusNotSupported         StatusCode = 406
	StatusMissingCredentials   StatusCode = 407
	StatusConflict             StatusCode = 409
	StatusSizeRequired         StatusCode = 411
	StatusIncompleteCommand    StatusCode = 412
	StatusEntityTooLarge       StatusCode = 413
	StatusUnsupportedMediaType StatusCode = 415
	StatusAlreadyExists        StatusCode = 418
	StatusConflictServerWon    StatusCode = 419
	StatusSizeMismatch         StatusCode = 424
	StatusCommandFailed        StatusCode = 500
	StatusNotImplemented       StatusCode = 501
	StatusServiceUnavailable   StatusCode = 503
	StatusVersionNotSupported  StatusCode = 505
	StatusRefreshRequired      StatusCode = 508
	StatusResumeNotPossible    StatusCode = 509 // "reserved" in RepPro 1.2.2; what Synthesis sends
	StatusDataStoreFailure     StatusCode = 510
	StatusServerFailure        StatusCode = 511
	StatusProtocolNotSupported StatusCode = 513
)

func (c StatusCode) String() string { return strconv.Itoa(int(c)) }

// AlertCode is an Alert's Data (OMA-TS-DS_Protocol 1.2, 8).
type AlertCode int

const (
	AlertTwoWay            AlertCode = 200
	AlertSlowSync          AlertCode = 201
	AlertOneWayFromClient  AlertCode = 202
	AlertRefreshFromClient AlertCode = 203
	AlertOneWayFromServer  AlertCode = 204
	AlertRefreshFromServer AlertCode = 205
	AlertNextMessage       AlertCode = 222
	AlertNoEndOfData       AlertCode = 223
	AlertSuspend           AlertCode = 224
	AlertResume            AlertCode = 225
)

func (c AlertCode) String() string { return strconv.Itoa(int(c)) }

// isSync reports whether the code starts a sync of a database.
func (c AlertCode) isSync() bool { return c >= AlertTwoWay && c <= AlertRefreshFromServer }

// normalize maps the server-alerted variants (206-210) to the sync
// they ask for.
func (c AlertCode) normalize() AlertCode {
	switch c {
	case 206:
		return AlertTwoWay
	case 207:
		return AlertOneWayFromClient
	case 208:
		return AlertRefreshFromClient
	case 209:
		return AlertOneWayFromServer
	case 210:
		return AlertRefreshFromServer
	}
	return c
}

// slow reports whether every item is exchanged (no anchor needed).
func (c AlertCode) slow() bool {
	return c == AlertSlowSync || c == AlertRefreshFromClient || c == AlertRefreshFromServer
}

// clientSends reports whether the client sends its changes in this mode.
func (c AlertCode) clientSends() bool {
	return c != AlertOneWayFromServer && c != AlertRefreshFromServer
}

// serverSends reports whether the server sends its changes.
func (c AlertCode) serverSends() bool {
	return c != AlertOneWayFromClient && c != AlertRefreshFromClient
}

// slowVariant is what a normal sync becomes when anchors do not match
// (508): two-way → slow, one-way → refresh (OMA-TS-DS_Protocol; Horde and
// Synthesis agree).
func (c AlertCode) slowVariant() AlertCode {
	switch c {
	case AlertTwoWay:
		return AlertSlowSync
	case AlertOneWayFromClient:
		return AlertRefreshFromClient
	case AlertOneWayFromServer:
		return AlertRefreshFromServer
	}
	return c
}
