package memstore_test

import (
	"testing"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"syncml-imap/pim/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) pim.Store { return memstore.New(nil) }, nil)
}
