"""The `twin` command line. Each area registers its commands from its own module; heavy libraries are
imported inside the commands so that `twin --help` stays instant."""
