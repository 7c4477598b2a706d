//go:build !linux

package msrp

func parkingAvailable() bool { return false }

func (c *conn) parkReader() bool { return false }

func (c *conn) forgetParked() {}
