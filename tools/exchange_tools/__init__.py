"""Development tools, not part of the product: the synthetic lenders' generator (synthetic), the demo
and the benchmarks (bench). They add `demo`, `generate` and `bench` to the `exchange` command
(cli.py, through the exchange.commands entry points); exchange_tools imports exchange, never the
reverse."""
