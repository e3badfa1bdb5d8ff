"""The rehearsal of `pulumi up`/`pulumi destroy` against emulated nodes and a simulated cluster."""
