from ckredis.cli import main

main()
