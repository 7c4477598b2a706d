package msrp

import "time"

// timeNow is the clock for transaction ages.
var timeNow = time.Now
