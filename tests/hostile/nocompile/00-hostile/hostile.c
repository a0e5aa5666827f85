/* hostile.c -- does not compile. */
int main(void)
{
    return not_declared_anywhere
}
