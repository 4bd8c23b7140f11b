from coolthing.cli import main

main()
