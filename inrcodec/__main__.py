from inrcodec.cli import main

main()
