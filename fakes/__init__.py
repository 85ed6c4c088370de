"""Dev servers that imitate the outside world: the Nemo emulator and fake Telegram and
Discord servers. `make emulator`, the benchmarks and the tests use them."""
