package engine

// CheckPlan exposes the plan invariants (property_test.go) to the external
// test package, whose fuzz targets build inputs through package scaler.
var CheckPlan = checkPlan

// T0 is the fixed clock of the tests.
var T0 = t0
