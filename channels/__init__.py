"""Channel adapters: one module or subpackage per source, and the registry
that names them. The protocols and errors they implement are in
:mod:`contracts`."""
