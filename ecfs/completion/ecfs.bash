# bash completion for ecfs(1).  Install as
# /usr/share/bash-completion/completions/ecfs (or source it).

_ecfs_cipher_opts="--cipher --key-bytes --fn-cipher --fn-key-bytes"

_ecfs_key_opts="--passphrase-file --extpass --salt --ecryptfsrc --extra-passphrase-file
    --fnek --fnek-same-key --fnek-passphrase-file --key-sig --key-file --key-extpass
    --gpg-key --tpm-key --tpm-tcti --rsa-key --rsa-passphrase-file --rsa-passphrase-extpass
    --escrow-key --gpg-recipient --policy --keys-dir --no-keys-dir"

_ecfs()
{
    local cur prev cmd opts i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local cmds="mount umount info decrypt encrypt ls sig unwrap wrap recover
        unwrap-passphrase wrap-passphrase rewrap-passphrase fsck add-passphrase
        setup-private mount-private umount-private migrate-home rekey escrow keyfile help"

    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} != -* ]]; then
            cmd=${COMP_WORDS[i]}
            break
        fi
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$cmds --help" -- "$cur"))
        return
    fi

    # Options that take a file, a directory, a command or a value.
    case $prev in
        --passphrase-file|--extra-passphrase-file|--fnek-passphrase-file|--ecryptfsrc|\
        --login-password-file|--new-login-password-file|--wrapped-passphrase|--sig-file|\
        --key-file|--mount-passphrase-file|--gpg-key|--tpm-key|--rsa-key|--escrow-key|\
        --rsa-passphrase-file|--policy|--add-key-file|--add-passphrase-file|--add-gpg-key|\
        --add-tpm-key|--add-rsa)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --mountpoint|--home|--keys-dir)
            COMPREPLY=($(compgen -d -- "$cur"))
            return ;;
        --extpass|--login-extpass|--new-login-extpass|--key-extpass|--rsa-passphrase-extpass)
            COMPREPLY=($(compgen -c -- "$cur"))
            return ;;
        --salt|--wrapping-salt|--key-sig|--cipher|--key-bytes|--fn-cipher|--fn-key-bytes)
            [[ $prev == --cipher || $prev == --fn-cipher ]] &&
                COMPREPLY=($(compgen -W "aes blowfish des3_ede cast5 cast6 twofish" -- "$cur"))
            [[ $prev == --key-sig ]] && command -v keyctl >/dev/null &&
                COMPREPLY=($(compgen -W "$(keyctl list @u 2>/dev/null |
                    sed -n 's/.*user: \([0-9a-f]\{16\}\)$/\1/p')" -- "$cur"))
            return ;;
        -o)
            COMPREPLY=($(compgen -W "ro rw ecryptfs_sig= ecryptfs_cipher= ecryptfs_key_bytes=
                ecryptfs_fnek_sig= ecryptfs_fn_cipher= ecryptfs_fn_key_bytes=
                ecryptfs_xattr_metadata ecryptfs_passthrough ecryptfs_encrypted_view
                ecryptfs_check_dev_ruid new_files= nokey passphrase_file= extpass=
                extra_passphrase_file= salt= ecryptfsrc= fnek fnek_same_key timeout= spin= io_uring= colocate= readahead=
                allow_other allow_root auto_unmount" -- "${cur##*,}"))
            return ;;
    esac

    # escrow and keyfile take a subcommand first.
    local sub=
    if [[ $cmd == escrow || $cmd == keyfile ]]; then
        for ((i++; i < COMP_CWORD; i++)); do
            if [[ ${COMP_WORDS[i]} != -* ]]; then
                sub=${COMP_WORDS[i]}
                break
            fi
        done
        if [[ -z $sub ]]; then
            [[ $cmd == escrow ]] && COMPREPLY=($(compgen -W "setup recover --help" -- "$cur"))
            [[ $cmd == keyfile ]] && COMPREPLY=($(compgen -W "create wrap unwrap id --help" -- "$cur"))
            return
        fi
    fi

    case $cmd${sub:+ $sub} in
        "escrow setup")   opts="--escrow-key --keys-dir --help" ;;
        "escrow recover") opts="--rsa-key --rsa-passphrase-file --rsa-passphrase-extpass --help" ;;
        "keyfile create") opts="--gpg-recipient --tpm --pcrs --help" ;;
        "keyfile wrap")   opts="--gpg-recipient --tpm --pcrs --help" ;;
        "keyfile unwrap") opts="--gpg-key --tpm-key --tpm-tcti --key-file --help" ;;
        "keyfile id")     opts="--help $_ecfs_key_opts" ;;
        mount)      opts="-f --foreground -d --debug -o --help $_ecfs_key_opts" ;;
        umount)     opts="-z --lazy --help" ;;
        rekey)      opts="--add-key-file --add-passphrase-file --add-gpg-key --add-tpm-key
                        --add-rsa --remove -n --dry-run -p --progress --help $_ecfs_key_opts" ;;
        info)       opts="--check --help $_ecfs_key_opts" ;;
        decrypt)    opts="-o --help $_ecfs_cipher_opts $_ecfs_key_opts" ;;
        encrypt)    opts="-o --xattr --help $_ecfs_cipher_opts $_ecfs_key_opts" ;;
        ls)         opts="-R --help $_ecfs_cipher_opts $_ecfs_key_opts" ;;
        sig|add-passphrase) opts="--help $_ecfs_key_opts" ;;
        unwrap)     opts="--help $_ecfs_key_opts" ;;
        wrap)       opts="--mount-passphrase-file --help $_ecfs_key_opts" ;;
        recover)    opts="--login-password-file --login-extpass --wrapped-passphrase --sig-file
                        --mountpoint --rw --check -y --yes --help $_ecfs_key_opts" ;;
        unwrap-passphrase) opts="--login-password-file --login-extpass --salt --ecryptfsrc --help" ;;
        wrap-passphrase)   opts="--passphrase-file --extpass --login-password-file
                        --login-extpass --wrapping-salt --help" ;;
        rewrap-passphrase) opts="--login-password-file --login-extpass --new-login-password-file
                        --new-login-extpass --wrapping-salt --salt --ecryptfsrc --help" ;;
        fsck)       opts="--json --repair -y --yes --nokey --add-escrow --help $_ecfs_cipher_opts
                        $_ecfs_key_opts" ;;
        setup-private) opts="--login-password-file --login-extpass --passphrase-file --no-fnek
                        --noautomount --noautoumount --home --help" ;;
        mount-private) opts="--login-password-file --login-extpass --passphrase-file
                        --mountpoint --home --ro --help" ;;
        umount-private) opts="--home --help" ;;
        migrate-home) opts="--login-password-file --login-extpass --help" ;;
        *)          opts="--help" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    case $cmd in
        umount|umount-private|mount-private|sig|add-passphrase|setup-private) ;;
        migrate-home) COMPREPLY=($(compgen -u -- "$cur")) ;;
        *) COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
}
complete -o filenames -F _ecfs ecfs
