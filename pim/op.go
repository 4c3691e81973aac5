package pim

// Op is what a change does to an item, either way: the item is added,
// replaced or deleted. A front's plan of what goes to a device maps
// store item IDs to ops; its protocol may have more (SyncML's Copy and
// Move), which it turns into these.
type Op string

// The ops.
const (
	OpAdd     Op = "Add"
	OpReplace Op = "Replace"
	OpDelete  Op = "Delete"
)

// Count counts one change of op (others are not counted).
func (c *ChangeCounts) Count(op Op) {
	switch op {
	case OpAdd:
		c.Added++
	case OpReplace:
		c.Replaced++
	case OpDelete:
		c.Deleted++
	}
}
