"""Scripts run on the operator's machine by `local.Command` steps, with kubectl (see
components/cluster/vf_registration.py); rendered with a quoted parameter prelude like the node
scripts."""
