"""The `reconciler` command line (click). `groups` defines the command groups; each
`*_cmds` module adds its commands; `main` imports them all."""
