"""A fake Discord REST and gateway server."""
