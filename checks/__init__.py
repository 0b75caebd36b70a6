"""How we check: level-set sampling, exact segment maxima, component graphs, claims, CLI."""
