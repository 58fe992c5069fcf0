from metaviz.cli import main

main()
